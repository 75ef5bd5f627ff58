package html

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// newPlot returns a plot in the charts' style: sans-serif text, light
// grid-friendly axes, no title (the page's figure caption names it).
func newPlot() *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(sans, 10)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 8)
		a.Tick.Label.Font = font.From(sans, 7)
		a.Padding = 0
		a.Color = axisGrey
		a.Tick.Color = axisGrey
		a.Tick.Marker = plainTicks{}
	}
	p.Legend.TextStyle.Font = font.From(sans, 7)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = 12
	return p
}

// plainTicks are gonum's default ticks labelled without trailing zeros
// ("500", not "500.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(math.Round(ts[i].Value*1e6)/1e6, 'f', -1, 64)
		}
	}
	return ts
}

// chartSVG draws plots stacked vertically, their X axes aligned, into one
// SVG element of width w and row height h. It returns the element ready to
// inline in HTML: no XML prologue, sized by CSS, labelled for assistive
// technology with label.
func chartSVG(name, label string, w, h vg.Length, rows ...*plot.Plot) ([]byte, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(w, h*vg.Length(len(rows))), vgsvg.EmbedFonts(false))
	dc := draw.New(c)
	if len(rows) == 1 {
		if err := drawSafe(rows[0], dc); err != nil {
			return nil, fmt.Errorf("drawing chart %s: %w", name, err)
		}
	} else {
		grid := make([][]*plot.Plot, len(rows))
		for i, p := range rows {
			grid[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(rows), Cols: 1, PadY: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 6}
		canvases, err := alignSafe(grid, tiles, dc)
		if err != nil {
			return nil, fmt.Errorf("laying out chart %s: %w", name, err)
		}
		for i, p := range rows {
			if err := drawSafe(p, canvases[i][0]); err != nil {
				return nil, fmt.Errorf("drawing chart %s: %w", name, err)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encoding chart %s: %w", name, err)
	}
	return inline(buf.Bytes(), label)
}

// inline turns a standalone SVG document into an element for an HTML
// page: it drops the XML prologue and comment and labels the root.
func inline(doc []byte, label string) ([]byte, error) {
	i := bytes.Index(doc, []byte("<svg "))
	if i < 0 {
		return nil, fmt.Errorf("the SVG writer produced no <svg> element")
	}
	svg := doc[i:]
	attrs := ` role="img" aria-label="` + html.EscapeString(label) + `"`
	j := bytes.IndexByte(svg, '>')
	var out bytes.Buffer
	out.Grow(len(svg) + len(attrs) + len(label) + 32)
	out.Write(svg[:j])
	out.WriteString(attrs)
	out.WriteString(">\n<title>" + html.EscapeString(label) + "</title>")
	out.Write(svg[j+1:])
	return out.Bytes(), nil
}

// drawSafe draws p, turning a panic of the plotting library (it panics on
// ranges it cannot draw) into an error, so a strange series costs a chart,
// never the report.
func drawSafe(p *plot.Plot, c draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: %v", r)
		}
	}()
	p.Draw(c)
	return nil
}

func alignSafe(grid [][]*plot.Plot, t draw.Tiles, dc draw.Canvas) (cs [][]draw.Canvas, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: %v", r)
		}
	}()
	return plot.Align(grid, t, dc), nil
}

// slug makes a step name safe for an HTML id and a data attribute.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
