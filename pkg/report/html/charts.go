package html

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
)

// rtoBar is one recovery on an RTO chart.
type rtoBar struct {
	name string
	rec  *v1alpha1.Recovery
}

// objective is the RTO the recovery was judged against; 0 when none.
func objective(rec *v1alpha1.Recovery) time.Duration {
	for _, v := range rec.Verdicts {
		if v.Objective != "rto" && v.Objective != "failbackRTO" {
			continue
		}
		if d, err := time.ParseDuration(v.Target); err == nil {
			return d
		}
	}
	return 0
}

// rtoChart draws each recovery's time as a horizontal bar against its
// objective (a red tick): green within it, red over it, grey and as long
// as the observation when it never recovered.
func rtoChart(name, label string, w vg.Length, bars []rtoBar) ([]byte, error) {
	p := newPlot()
	p.X.Label.Text = "recovery time, seconds (red mark: objective)"
	p.X.Min = 0
	p.Add(grid{})
	names := make([]string, len(bars))
	var objX, objY []float64
	var labels plotter.XYLabels
	for i, b := range bars {
		// Bars are listed top down: the first recovery at the top.
		y := float64(len(bars) - 1 - i)
		names[len(bars)-1-i] = b.name
		obj := objective(b.rec)
		v, c, text := 0.0, passGreen, ""
		switch {
		case b.rec.Recovered && b.rec.RecoveryTime != nil:
			v = b.rec.RecoveryTime.Seconds()
			text = report.FormatDuration(b.rec.RecoveryTime.Duration)
			if b.rec.Verdict != v1alpha1.VerdictPass {
				c = failRed
			}
		default:
			c = neverGrey
			if b.rec.Start != nil && b.rec.End != nil {
				v = b.rec.End.Sub(b.rec.Start.Time).Seconds()
				text = "not recovered in " + report.FormatDuration(b.rec.End.Sub(b.rec.Start.Time))
			} else {
				text = "not recovered"
			}
		}
		bc, err := plotter.NewBarChart(plotter.Values{v}, 14)
		if err != nil {
			return nil, fmt.Errorf("bar of %s: %w", b.name, err)
		}
		bc.Horizontal = true
		bc.XMin = y
		bc.Color = c
		bc.LineStyle.Width = 0
		p.Add(bc)
		labels.XYs = append(labels.XYs, plotter.XY{X: v, Y: y})
		labels.Labels = append(labels.Labels, " "+text)
		if obj > 0 {
			objX, objY = append(objX, obj.Seconds()), append(objY, y)
		}
	}
	if len(objX) > 0 {
		p.Add(ticks{xs: objX, ys: objY, half: 0.35, style: draw.LineStyle{Color: objectiveRed, Width: 2}})
	}
	ls, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("labels of %s: %w", name, err)
	}
	for i := range ls.TextStyle {
		ls.TextStyle[i] = textStyle(7)
		ls.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(ls)
	p.NominalY(names...)
	// Room for the value labels right of the longest bar.
	p.X.Max = math.Max(p.X.Max*1.25, 0.5)
	h := vg.Length(0.6+0.35*float64(len(bars))) * vg.Inch
	return chartSVG(name, label, w, h, p)
}

// overviewChart draws the whole drill: success rate and p99 per second,
// with every fault's failover and fail-back shaded and named.
func overviewChart(r *report.Report) ([]byte, error) {
	if len(r.Series) == 0 {
		return nil, nil
	}
	start := r.Series[0].At
	w := window{from: start, to: r.Series[len(r.Series)-1].At.Add(time.Second), ref: start}
	x0, x1 := 0.0, w.x(w.to)
	panel := func(ylabel string) *plot.Plot {
		p := newPlot()
		p.X.Min, p.X.Max = x0, x1
		p.Y.Label.Text = ylabel
		p.Add(grid{})
		for _, s := range r.Faults() {
			f := s.Fault
			if f.Injected == nil {
				continue
			}
			end := w.to
			if f.Window != nil && f.Window.To != nil {
				end = f.Window.To.Time
			}
			hold := end
			if f.Reverted != nil {
				hold = f.Reverted.Time
				p.Add(band{x0: w.x(f.Reverted.Time), x1: w.x(end), color: failbackShade})
			}
			p.Add(band{x0: w.x(f.Injected.Time), x1: w.x(hold), color: failoverShade})
		}
		return p
	}
	success, _, p99 := seriesLines(r.Series, w)
	sr := panel("success %")
	sr.Y.Min, sr.Y.Max = 0, 100
	for i, s := range r.Faults() {
		if s.Fault.Injected != nil {
			sr.Add(caption{x: w.x(s.Fault.Injected.Time), row: i % 2, text: s.Name})
		}
	}
	if err := addLines(sr, success, successBlue, nil, ""); err != nil {
		return nil, err
	}
	sr.HideX()
	lat := panel("p99 ms")
	lat.Y.Min = 0
	if err := addLines(lat, p99, p99Purple, nil, ""); err != nil {
		return nil, err
	}
	if obj := latencyObjective(r); obj > 0 {
		lat.Add(hline{y: ms(obj), style: draw.LineStyle{Color: objectiveRed, Width: 0.6, Dashes: []vg.Length{2, 2}}, label: "p99 ≤ " + report.FormatDuration(obj)})
		lat.Y.Max = max(lat.Y.Max, ms(obj)*1.15)
	}
	if lat.Y.Max <= 0 {
		lat.Y.Max = 1
	}
	lat.X.Label.Text = "seconds since the drill started (" + start.UTC().Format("2006-01-02 15:04:05") + " UTC)"
	label := "The whole drill: success rate and p99 latency per second, each fault's failover (orange) and fail-back (blue) shaded"
	for _, p := range []*plot.Plot{sr, lat} {
		p.X.Min, p.X.Max = x0, x1
	}
	return chartSVG("overview", label, chartWidth, panelHeight*1.1, sr, lat)
}

// TrendChart is the trend section's chart of one recovery across a plan's
// runs (oldest first, as trend.Analyze takes them): an inline SVG element.
// drill serve's dashboard draws the same chart, so both read alike; it
// always shows the objective (the report's chart shows it when it is on
// the scale of the recoveries).
func TrendChart(s *trend.Series, runs []trend.Run) ([]byte, error) { return trendChart(s, runs, true) }

// trendChart draws one recovery across the plan's runs: its recovery time
// per run, the objective, regressions in red, the current run ringed, and
// runs that never recovered as crosses at the top.
func trendChart(s *trend.Series, runs []trend.Run, objectiveAlways bool) ([]byte, error) {
	pos := make(map[string]int, len(runs))
	for i, r := range runs {
		pos[r.RunID] = i
	}
	p := newPlot()
	p.Y.Label.Text = "seconds"
	p.X.Min, p.X.Max = -0.5, float64(len(runs))-0.5
	p.Y.Min = 0
	var tk []plot.Tick
	step := max(1, len(runs)/10)
	for i, r := range runs {
		lbl := ""
		if i%step == 0 || i == len(runs)-1 {
			lbl = r.Start.UTC().Format("01-02\n15:04")
		}
		tk = append(tk, plot.Tick{Value: float64(i), Label: lbl})
	}
	p.X.Tick.Marker = plot.ConstantTicks(tk)
	p.Add(grid{})
	var line, normal, flagged, current plotter.XYs
	var never []float64
	// The axis fits the recoveries, so their trend shows; the objective
	// is drawn when it is on the same scale (the caption names it).
	top := 0.0
	for _, pt := range s.Points {
		if pt.Recovered {
			top = max(top, pt.RecoveryTime.Seconds())
		}
	}
	top = max(top*1.25, 0.1)
	obj := s.Points[len(s.Points)-1].Objective.Duration
	if obj > 0 && (objectiveAlways || obj.Seconds() <= 2*top) {
		top = max(top, obj.Seconds()*1.1)
	}
	var segs []plotter.XYs
	for _, pt := range s.Points {
		x := float64(pos[pt.RunID])
		if !pt.Recovered {
			never = append(never, x)
			if len(line) > 0 {
				segs, line = append(segs, line), nil
			}
			continue
		}
		xy := plotter.XY{X: x, Y: pt.RecoveryTime.Seconds()}
		line = append(line, xy)
		switch {
		case pt.Regression:
			flagged = append(flagged, xy)
		default:
			normal = append(normal, xy)
		}
		if pt.Current {
			current = append(current, xy)
		}
	}
	if len(line) > 0 {
		segs = append(segs, line)
	}
	if err := addLines(p, segs, successBlue, nil, ""); err != nil {
		return nil, err
	}
	if obj > 0 && obj.Seconds() <= top {
		p.Add(hline{y: obj.Seconds(), style: draw.LineStyle{Color: objectiveRed, Width: 0.6, Dashes: []vg.Length{2, 2}}, label: "objective " + report.FormatDuration(obj)})
	}
	for _, g := range []struct {
		xys   plotter.XYs
		style draw.GlyphStyle
	}{
		{normal, draw.GlyphStyle{Color: successBlue, Radius: 2.5, Shape: draw.CircleGlyph{}}},
		{flagged, draw.GlyphStyle{Color: failRed, Radius: 3.5, Shape: draw.CircleGlyph{}}},
		{current, draw.GlyphStyle{Color: color.Black, Radius: 5, Shape: draw.RingGlyph{}}},
	} {
		if len(g.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(g.xys)
		if err != nil {
			return nil, fmt.Errorf("trend of %s: %w", s.Name(), err)
		}
		sc.GlyphStyle = g.style
		p.Add(sc)
	}
	if len(never) > 0 {
		xys := make(plotter.XYs, len(never))
		for i, x := range never {
			xys[i] = plotter.XY{X: x, Y: top}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("trend of %s: %w", s.Name(), err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: failRed, Radius: 3.5, Shape: draw.CrossGlyph{}}
		p.Add(sc)
	}
	p.Y.Max = top
	label := fmt.Sprintf("Trend of %s: recovery time over the plan's last %d runs", s.Name(), len(runs))
	return chartSVG("trend "+s.Name(), label, chartWidth/2-0.1*vg.Inch, 1.9*vg.Inch, p)
}
