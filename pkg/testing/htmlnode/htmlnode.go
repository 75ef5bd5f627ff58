package htmlnode

import (
	"strings"

	"golang.org/x/net/html"
)

// Attr is the value of n's attribute key, or "".
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Classes is n's class list as .a.b, or "".
func Classes(n *html.Node) string {
	if c := Attr(n, "class"); c != "" {
		return "." + strings.Join(strings.Fields(c), ".")
	}
	return ""
}

// Marks is n's id as #id followed by its data- attributes as [data-k=v],
// in document order, or "".
func Marks(n *html.Node) string {
	var s string
	if id := Attr(n, "id"); id != "" {
		s += "#" + id
	}
	for _, a := range n.Attr {
		if strings.HasPrefix(a.Key, "data-") {
			s += "[" + a.Key + "=" + a.Val + "]"
		}
	}
	return s
}
