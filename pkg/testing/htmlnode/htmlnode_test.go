package htmlnode_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/firedrill/firedrill/pkg/testing/htmlnode"
)

func TestNode(t *testing.T) {
	tests := []struct {
		name, doc, attr, classes, marks string
	}{
		{"bare", `<div></div>`, "", "", ""},
		{"classes", `<div class=" a  b " title="t"></div>`, "t", ".a.b", ""},
		{"id and data", `<div id="x" data-fault="kill" data-n="2" title=""></div>`, "", "", "#x[data-fault=kill][data-n=2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader(tt.doc))
			require.NoError(t, err)
			n := doc.FirstChild.LastChild.FirstChild // html > body > div
			require.Equal(t, "div", n.Data)
			require.Equal(t, tt.attr, htmlnode.Attr(n, "title"))
			require.Equal(t, tt.classes, htmlnode.Classes(n))
			require.Equal(t, tt.marks, htmlnode.Marks(n))
		})
	}
}
