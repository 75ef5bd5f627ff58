package html_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/firedrill/firedrill/pkg/testing/htmlnode"
)

// outline is the page's structure as a person reads it: headings,
// paragraphs, definition lists and table rows with their text, figures
// with their chart's label and a summary of its drawing. It is what the
// golden files hold, so a change of wording or structure shows in review
// while the charts' path data does not.
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
			fmt.Fprintf(&b, "%ssvg %q: %d paths, texts %q\n", ind, htmlnode.Attr(n, "aria-label"), count(n, "path"), svgTexts(n))
			return
		case "title", "h1", "h2", "h3", "p", "li", "dt", "dd", "summary", "figcaption", "th", "td":
			fmt.Fprintf(&b, "%s%s%s: %s\n", ind, n.Data, htmlnode.Classes(n), squash(text(n)))
			return
		case "tr":
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					cells = append(cells, squash(text(c)))
				}
			}
			fmt.Fprintf(&b, "%str%s: %s\n", ind, htmlnode.Classes(n), strings.Join(cells, " | "))
			return
		case "meta":
			fmt.Fprintf(&b, "%smeta %s\n", ind, strings.TrimSpace(htmlnode.Attr(n, "charset")+" "+htmlnode.Attr(n, "http-equiv")+" "+htmlnode.Attr(n, "name")+" "+htmlnode.Attr(n, "content")))
			return
		}
		fmt.Fprintf(&b, "%s%s%s%s\n", ind, n.Data, htmlnode.Classes(n), htmlnode.Marks(n))
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	return b.String()
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
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

// svgTexts are the texts a chart writes (axis labels, legends, tick
// labels), in order.
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
