package html

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// band shades [x0, x1) over the whole height of a plot's data area. It
// does not widen the axes.
type band struct {
	x0, x1 float64
	color  color.Color
	// label, when set, is written at the top left of the band.
	label string
	// row moves the label down by rows of text, to stagger labels of
	// neighbouring bands.
	row int
}

// Plot implements plot.Plotter.
func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x0, x1 := max(trX(b.x0), c.Min.X), min(trX(b.x1), c.Max.X)
	if x1 <= x0 {
		return
	}
	c.SetColor(b.color)
	c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
	if b.label != "" {
		caption{x: b.x0, row: b.row, text: b.label}.Plot(c, p)
	}
}

// caption writes text at the top of the data area, starting at x; row
// moves it down by rows of text, to stagger neighbouring captions.
type caption struct {
	x    float64
	row  int
	text string
}

// Plot implements plot.Plotter.
func (t caption) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(t.x)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	sty := textStyle(7)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	c.FillText(sty, vg.Point{X: x + 2, Y: c.Max.Y - 2 - vg.Length(t.row)*9}, t.text)
}

// vline draws a vertical line at x over the whole data area.
type vline struct {
	x     float64
	style draw.LineStyle
}

// Plot implements plot.Plotter.
func (l vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(l.x)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	c.StrokeLine2(l.style, x, c.Min.Y, x, c.Max.Y)
}

// hline draws a horizontal line at y over the whole data area, with an
// optional label at its right end.
type hline struct {
	y     float64
	style draw.LineStyle
	label string
}

// Plot implements plot.Plotter.
func (l hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(l.y)
	if y < c.Min.Y || y > c.Max.Y {
		return
	}
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
	if l.label != "" {
		sty := textStyle(7)
		sty.Color = l.style.Color
		sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
		c.FillText(sty, vg.Point{X: c.Max.X - 2, Y: y + 1}, l.label)
	}
}

// ticks draws short vertical marks at (x, y±half) in data units: an
// objective on a bar.
type ticks struct {
	xs, ys []float64
	half   float64
	style  draw.LineStyle
}

// Plot implements plot.Plotter.
func (t ticks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i := range t.xs {
		x := trX(t.xs[i])
		c.StrokeLine2(t.style, x, trY(t.ys[i]-t.half), x, trY(t.ys[i]+t.half))
	}
}

// DataRange implements plot.DataRanger, so an objective beyond every bar
// stays in view.
func (t ticks) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = t.xs[0], t.xs[0]
	ymin, ymax = t.ys[0]-t.half, t.ys[0]+t.half
	for i := range t.xs {
		xmin, xmax = min(xmin, t.xs[i]), max(xmax, t.xs[i])
		ymin, ymax = min(ymin, t.ys[i]-t.half), max(ymax, t.ys[i]+t.half)
	}
	return xmin, xmax, ymin, ymax
}

// textStyle is the charts' sans-serif text at size points.
func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(sans, size),
		Handler: plot.DefaultTextHandler,
	}
}

// sans is the charts' font: Liberation Sans, metric-compatible with Arial
// and Helvetica, which the page's CSS names as fallbacks.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// grid draws light lines at the X axis's default ticks (even when the
// axis itself is hidden, so stacked panels share vertical guides) and at
// the Y axis's ticks.
type grid struct{}

// Plot implements plot.Plotter.
func (grid) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: gridGrey, Width: 0.5}
	for _, t := range (plot.DefaultTicks{}).Ticks(p.X.Min, p.X.Max) {
		if x := trX(t.Value); !t.IsMinor() && x >= c.Min.X && x <= c.Max.X {
			c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		}
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if y := trY(t.Value); !t.IsMinor() && y >= c.Min.Y && y <= c.Max.Y {
			c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
		}
	}
}
