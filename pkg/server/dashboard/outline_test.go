package dashboard_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// outline is a page's structure as a person reads it: headings,
// paragraphs, table rows with their text and links, forms and their
// fields, figures with their chart's label and a summary of its drawing.
// The golden files hold it, so a change of wording, structure or link
// shows in review while the charts' path data does not.
func outline(t *testing.T, page []byte) string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	var b strings.Builder
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		if n.Type != html.ElementNode {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, depth)
			}
			return
		}
		ind := strings.Repeat("  ", depth)
		switch n.Data {
		case "style":
			fmt.Fprintf(&b, "%sstyle (%d rules)\n", ind, strings.Count(text(n), "}"))
			return
		case "svg":
			fmt.Fprintf(&b, "%ssvg %q: %d paths, texts %q\n", ind, attr(n, "aria-label"), count(n, "path"), svgTexts(n))
			return
		case "div":
			if attr(n, "class") != "charts" {
				fmt.Fprintf(&b, "%s%s%s: %s\n", ind, n.Data, classes(n), squash(text(n)))
				return
			}
			fmt.Fprintf(&b, "%s%s%s\n", ind, n.Data, classes(n))
		case "title", "h1", "h2", "p", "li", "dt", "dd", "figcaption", "th", "td", "a", "label", "button", "span":
			fmt.Fprintf(&b, "%s%s%s: %s\n", ind, n.Data, classes(n), squash(text(n)))
			return
		case "input":
			fmt.Fprintf(&b, "%sinput name=%s type=%s value=%q\n", ind, attr(n, "name"), attr(n, "type"), attr(n, "value"))
			return
		case "form":
			fmt.Fprintf(&b, "%sform%s %s %s\n", ind, classes(n), attr(n, "method"), attr(n, "action"))
		case "tr":
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					cells = append(cells, squash(text(c)))
				}
			}
			fmt.Fprintf(&b, "%str%s: %s\n", ind, classes(n), strings.Join(cells, " | "))
			return
		case "meta", "link":
			fmt.Fprintf(&b, "%s%s %s\n", ind, n.Data, strings.TrimSpace(attr(n, "charset")+" "+attr(n, "name")+" "+attr(n, "rel")+" "+attr(n, "href")+" "+attr(n, "content")))
			return
		default:
			fmt.Fprintf(&b, "%s%s%s%s\n", ind, n.Data, classes(n), ids(n))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func classes(n *html.Node) string {
	if c := attr(n, "class"); c != "" {
		return "." + strings.ReplaceAll(strings.TrimSpace(c), " ", ".")
	}
	return ""
}

func ids(n *html.Node) string {
	var s string
	if id := attr(n, "id"); id != "" {
		s += "#" + id
	}
	for _, a := range n.Attr {
		if strings.HasPrefix(a.Key, "data-") {
			s += "[" + a.Key + "=" + a.Val + "]"
		}
	}
	return s
}

// text is a node's text with its links as text<href>, its gauges as
// [gauge N%] and its verdict squares as [class].
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && n.Data == "span" && strings.HasPrefix(attr(n, "style"), "width"):
			b.WriteString("[gauge " + strings.TrimSpace(strings.TrimPrefix(attr(n, "style"), "width:")) + "]")
		case n.Type == html.ElementNode && strings.HasPrefix(attr(n, "class"), "run "):
			b.WriteString(" [" + strings.TrimPrefix(attr(n, "class"), "run ") + ": " + attr(n, "title") + "]")
			if h := attr(n, "href"); h != "" {
				b.WriteString("<" + h + ">")
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		switch {
		case n.Type == html.ElementNode && n.Data == "a":
			b.WriteString("<" + attr(n, "href") + ">")
		case n.Type == html.ElementNode && n.Data == "div":
			b.WriteString(" ¶ ")
		}
	}
	walk(n)
	return b.String()
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func count(n *html.Node, tag string) int {
	k := 0
	if n.Type == html.ElementNode && n.Data == tag {
		k++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		k += count(c, tag)
	}
	return k
}

// svgTexts are the texts a chart writes, in order.
func svgTexts(n *html.Node) []string {
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "text" {
			out = append(out, squash(text(n)))
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}
