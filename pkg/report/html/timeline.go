package html

import (
	"fmt"
	"image/color"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Chart sizes: the page is about 900 CSS pixels wide.
const (
	chartWidth  = 9 * vg.Inch
	panelHeight = 1.45 * vg.Inch
)

// instantRows are the rows of a timeline's instants lane, top to bottom.
var instantRows = []string{"injected / reverted", "impact", "replaced", "ready", "serving", "recovered"}

// window is the stretch of the drill a chart shows, in absolute time, and
// the instant its X axis counts seconds from.
type window struct {
	from, to, ref time.Time
}

func (w window) x(t time.Time) float64 { return t.Sub(w.ref).Seconds() }

// faultWindow is the stretch a fault's timeline shows: from its baseline
// (or 10 s before it) to the end of its last observation, plus a margin.
func faultWindow(r *report.Report, f *v1alpha1.FaultResult) window {
	ref := f.Injected.Time
	from := ref.Add(-10 * time.Second)
	to := ref.Add(10 * time.Second)
	for _, rec := range []*v1alpha1.Recovery{f.Failover, f.Failback} {
		if rec == nil {
			continue
		}
		if rec == f.Failover && rec.Before.From != nil && rec.Before.From.Time.Before(ref) {
			from = rec.Before.From.Time
		}
		if rec.Start != nil && rec.Start.Time.Before(from) {
			from = rec.Start.Time
		}
		if rec.End != nil && rec.End.After(to) {
			to = rec.End.Time
		}
	}
	if f.Window != nil && f.Window.To != nil && f.Window.To.After(to) {
		to = f.Window.To.Time
	}
	// Keep at most 30 s of baseline and a margin after the end.
	if ref.Sub(from) > 30*time.Second {
		from = ref.Add(-30 * time.Second)
	}
	to = to.Add(3 * time.Second)
	if n := len(r.Series); n > 0 {
		first, last := r.Series[0].At, r.Series[n-1].At.Add(time.Second)
		from, to = maxTime(from, first), minTime(to, last)
		if !to.After(from) {
			to = from.Add(time.Second)
		}
	}
	return window{from: from, to: to, ref: ref}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// inWindow returns the series points of w.
func inWindow(series []slo.Point, w window) []slo.Point {
	lo, _ := slices.BinarySearchFunc(series, w.from.Add(-time.Second), func(p slo.Point, t time.Time) int { return p.At.Compare(t) })
	hi, _ := slices.BinarySearchFunc(series, w.to, func(p slo.Point, t time.Time) int { return p.At.Compare(t) })
	return series[lo:hi]
}

// seriesLines draws success rate, p50 and p99 of pts, broken where a
// second had no request.
func seriesLines(pts []slo.Point, w window) (success, p50, p99 []plotter.XYs) {
	var s, a, b plotter.XYs
	flush := func() {
		if len(s) > 0 {
			success, p50, p99 = append(success, s), append(p50, a), append(p99, b)
		}
		s, a, b = nil, nil, nil
	}
	for _, p := range pts {
		if p.Requests == 0 {
			flush()
			continue
		}
		x := w.x(p.At) + 0.5
		s = append(s, plotter.XY{X: x, Y: p.SuccessRate()})
		a = append(a, plotter.XY{X: x, Y: ms(p.P50.Duration)})
		b = append(b, plotter.XY{X: x, Y: ms(p.P99.Duration)})
	}
	flush()
	return success, p50, p99
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// capacitySteps returns the total desired and ready replicas over w, as
// steps: a workload keeps its last reported state until its next point.
func capacitySteps(points []evidence.CapacityPoint, w window) (desired, ready plotter.XYs) {
	if len(points) == 0 {
		return nil, nil
	}
	type state struct{ desired, ready int }
	cur := map[string]state{}
	total := func() (int, int) {
		var d, r int
		for _, s := range cur {
			d += s.desired
			r += s.ready
		}
		return d, r
	}
	i := 0
	for ; i < len(points) && !points[i].At.After(w.from); i++ {
		cur[points[i].Workload] = state{points[i].Desired, points[i].Ready}
	}
	add := func(t time.Time) {
		d, r := total()
		x := w.x(t)
		desired = append(desired, plotter.XY{X: x, Y: float64(d)})
		ready = append(ready, plotter.XY{X: x, Y: float64(r)})
	}
	if len(cur) > 0 {
		add(w.from)
	}
	for ; i < len(points) && points[i].At.Before(w.to); i++ {
		cur[points[i].Workload] = state{points[i].Desired, points[i].Ready}
		add(points[i].At)
	}
	if len(cur) > 0 {
		add(w.to)
	}
	return desired, ready
}

// shades are the failover and fail-back windows of a fault, drawn behind
// every panel, and the lines at its revert and recoveries.
func shades(f *v1alpha1.FaultResult, w window, label bool) []plot.Plotter {
	var out []plot.Plotter
	add := func(rec *v1alpha1.Recovery, shade, ink color.Color, name string) {
		if rec == nil || rec.Start == nil {
			return
		}
		end := w.to
		if rec.End != nil {
			end = rec.End.Time
		}
		b := band{x0: w.x(rec.Start.Time), x1: w.x(end), color: shade}
		if label {
			b.label = name
			if name == "fail-back" {
				b.row = 1
			}
		}
		out = append(out, b)
		if rec.Instants.Recovered != nil {
			out = append(out, vline{x: w.x(rec.Instants.Recovered.Time), style: draw.LineStyle{Color: ink, Width: 0.8, Dashes: []vg.Length{3, 2}}})
		}
	}
	add(f.Failover, failoverShade, failoverInk, "failover")
	add(f.Failback, failbackShade, failbackInk, "fail-back")
	out = append(out, vline{x: w.x(f.Injected.Time), style: draw.LineStyle{Color: failoverInk, Width: 1}})
	if f.Reverted != nil {
		out = append(out, vline{x: w.x(f.Reverted.Time), style: draw.LineStyle{Color: failbackInk, Width: 1}})
	}
	return out
}

// timelineChart draws a fault's timeline: the instants lane, success rate,
// latency and capacity, over the fault's window.
func timelineChart(r *report.Report, name string, f *v1alpha1.FaultResult) ([]byte, error) {
	w := faultWindow(r, f)
	x0, x1 := w.x(w.from), w.x(w.to)
	panel := func(ylabel string) *plot.Plot {
		p := newPlot()
		p.X.Min, p.X.Max = x0, x1
		p.Y.Label.Text = ylabel
		p.Add(grid{})
		p.Add(shades(f, w, false)...)
		p.HideX()
		return p
	}

	lane := panel("")
	// A free row above the instants holds the legend and the shades' names.
	lane.Y.Min, lane.Y.Max = -0.6, float64(len(instantRows))+0.4
	var ticks []plot.Tick
	for i, name := range instantRows {
		ticks = append(ticks, plot.Tick{Value: laneY(i), Label: name})
	}
	lane.Y.Tick.Marker = plot.ConstantTicks(ticks)
	lane.Add(shades(f, w, true)...)
	for _, m := range []struct {
		rec   *v1alpha1.Recovery
		start *time.Time
		ink   color.Color
		glyph draw.GlyphDrawer
		label string
	}{
		{f.Failover, at(f.Injected), failoverInk, draw.CircleGlyph{}, "failover"},
		{f.Failback, at(f.Reverted), failbackInk, draw.PyramidGlyph{}, "fail-back"},
	} {
		if m.rec == nil {
			continue
		}
		var xys plotter.XYs
		in := m.rec.Instants
		for i, t := range []*time.Time{m.start, at(in.Impact), at(in.Replaced), at(in.Ready), at(in.Serving), at(in.Recovered)} {
			if t != nil {
				xys = append(xys, plotter.XY{X: w.x(*t), Y: laneY(i)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("instants of %s: %w", name, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: m.ink, Radius: 3, Shape: m.glyph}
		lane.Add(sc)
		lane.Legend.Add(m.label, sc)
	}
	lane.Legend.Top, lane.Legend.Left = true, false

	pts := inWindow(r.Series, w)
	success, p50, p99 := seriesLines(pts, w)

	sr := panel("success %")
	sr.Y.Min, sr.Y.Max = 0, 100
	if crit := r.Plan.Spec.Objectives.Recovered.SuccessRate; crit != "" {
		if v, err := crit.Float(); err == nil {
			sr.Add(hline{y: v, style: draw.LineStyle{Color: objectiveRed, Width: 0.6, Dashes: []vg.Length{2, 2}}, label: "recovered ≥ " + string(crit) + "%"})
		}
	}
	if err := addLines(sr, success, successBlue, nil, ""); err != nil {
		return nil, err
	}

	lat := panel("latency ms")
	lat.Legend.Left = true
	lat.Y.Min = 0
	if err := addLines(lat, p50, p50Teal, nil, "p50"); err != nil {
		return nil, err
	}
	if err := addLines(lat, p99, p99Purple, nil, "p99"); err != nil {
		return nil, err
	}
	if obj := latencyObjective(r); obj > 0 {
		lat.Add(hline{y: ms(obj), style: draw.LineStyle{Color: objectiveRed, Width: 0.6, Dashes: []vg.Length{2, 2}}, label: "p99 ≤ " + report.FormatDuration(obj)})
		lat.Y.Max = max(lat.Y.Max, ms(obj)*1.15)
	}
	if lat.Y.Max <= 0 {
		lat.Y.Max = 1
	}

	rows := []*plot.Plot{lane, sr, lat}
	desired, ready := capacitySteps(r.Capacity, w)
	if len(ready) > 0 {
		capa := panel("replicas")
		capa.Y.Min = 0
		capa.Legend.Top, capa.Legend.Left = false, true
		if err := addLines(capa, []plotter.XYs{desired}, desiredGrey, []vg.Length{3, 2}, "desired"); err != nil {
			return nil, err
		}
		if err := addLines(capa, []plotter.XYs{ready}, readyGreen, nil, "ready"); err != nil {
			return nil, err
		}
		capa.Y.Max += 1
		rows = append(rows, capa)
	}
	for _, p := range rows {
		// Lines widen the axes to their data; every panel shows the
		// same window.
		p.X.Min, p.X.Max = x0, x1
	}
	bottom := rows[len(rows)-1]
	bottom.X.Tick.Marker = plainTicks{}
	bottom.X.Tick.Length = 3
	bottom.X.Width = 0.5
	bottom.X.Label.Text = "seconds since injected (" + f.Injected.UTC().Format("15:04:05.000") + " UTC)"
	label := fmt.Sprintf("Timeline of %s: recovery instants, success rate, p50 and p99 latency per second%s, from %.0f s to %+.0f s around the injection", name, capacityWord(len(ready) > 0), x0, x1)
	return chartSVG("timeline "+name, label, chartWidth, panelHeight, rows...)
}

func capacityWord(tracked bool) string {
	if tracked {
		return ", and ready capacity"
	}
	return ""
}

func laneY(i int) float64 { return float64(len(instantRows) - 1 - i) }

// at is an optional instant as a time, nil when absent.
func at(t *metav1.MicroTime) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// addLines adds one line per segment, all in one style; the first carries
// the legend entry.
func addLines(p *plot.Plot, segments []plotter.XYs, c color.Color, dashes []vg.Length, legend string) error {
	for i, seg := range segments {
		if len(seg) == 0 {
			continue
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return fmt.Errorf("%s: %w", legend, err)
		}
		l.LineStyle = draw.LineStyle{Color: c, Width: 1.1, Dashes: dashes}
		if legend == "desired" || legend == "ready" {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		if i == 0 && legend != "" {
			p.Legend.Add(legend, l)
		}
	}
	return nil
}

// latencyObjective is the per-sample latency threshold of the recovered
// criteria, else the drill's p99 objective.
func latencyObjective(r *report.Report) time.Duration {
	o := r.Plan.Spec.Objectives
	if o.Recovered.LatencyP99 != nil {
		return o.Recovered.LatencyP99.Duration
	}
	if o.LatencyP99 != nil {
		return o.LatencyP99.Duration
	}
	return 0
}
