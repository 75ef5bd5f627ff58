package html

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
)

func checks(r *report.Report) []check {
	var out []check
	for _, c := range []struct {
		name string
		c    *v1alpha1.CheckResult
	}{{"baseline", r.Baseline}, {"final", r.Final}, {"whole drill", r.Overall}} {
		if c.c == nil {
			continue
		}
		for _, v := range c.c.Verdicts {
			out = append(out, check{Check: c.name, Objective: v.Objective, Target: v.Target, Measured: v.Measured, Verdict: v.Verdict, Reason: v.Reason})
		}
	}
	return out
}

// summary is report.Table as rows, the same columns drill run prints;
// the first row is the header.
func summary(r *report.Report) []summaryRow {
	var rows []summaryRow
	for _, line := range strings.Split(strings.TrimRight(report.Table(r), "\n"), "\n") {
		cells := splitColumns(line)
		row := summaryRow{Cells: cells[:len(cells)-1], Verdict: cells[len(cells)-1]}
		switch row.Verdict {
		case "PASS":
			row.Class = "pass"
		case "FAIL", "ERROR":
			row.Class = "fail"
		}
		rows = append(rows, row)
	}
	return rows
}

// summaryRow is a row of the fault table; its verdict is coloured.
type summaryRow struct {
	Cells   []string
	Verdict string
	Class   string
}

// splitColumns splits a line of report.Table, whose columns are separated
// by two or more spaces.
func splitColumns(line string) []string {
	var out []string
	for _, f := range strings.Split(line, "  ") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func faultSection(r *report.Report, name string, f *v1alpha1.FaultResult) faultView {
	fv := faultView{ID: "fault-" + slug(name), Name: name, Type: f.Type, Error: f.Error, Word: report.Word(f.Verdict), Class: verdictClass(f.Verdict), Notes: f.Notes}
	if f.Error != "" {
		// As the fault table says: the fault could not be injected or
		// reverted.
		fv.Word, fv.Class = "ERROR", "fail"
	}
	var targets []string
	for _, t := range f.Targets {
		targets = append(targets, t.Kind+" "+t.Name)
	}
	fv.Targets = strings.Join(targets, ", ")
	for _, a := range f.Actions {
		s := a.Phase + ": "
		switch {
		case a.Error != "":
			s += "failed: " + a.Error
		case a.Status != 0:
			s += fmt.Sprintf("HTTP %d", a.Status)
		default:
			s += fmt.Sprintf("exit code %d", a.ExitCode)
		}
		if a.StartTime != nil && a.CompletionTime != nil {
			s += " in " + report.FormatDuration(a.CompletionTime.Sub(a.StartTime.Time))
		}
		fv.Actions = append(fv.Actions, s)
	}
	if f.Injected == nil {
		fv.Timeline = chart{Name: "timeline-" + slug(name), Missing: "The fault was not injected, so there is no timeline."}
		return fv
	}
	inj := f.Injected.Time
	fv.Injected = f.Injected.UTC().Format("15:04:05.000000") + " UTC"
	recs := report.Recoveries(name, f)
	for _, nr := range recs {
		fv.Phases = append(fv.Phases, nr.Phase)
	}
	row := func(label string, pick func(*v1alpha1.Recovery) *metav1.MicroTime) {
		cells := []string{label}
		for _, nr := range recs {
			cells = append(cells, report.Since(pick(nr.Recovery), inj))
		}
		fv.Instants = append(fv.Instants, cells)
	}
	row("start", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Start })
	row("impact", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Instants.Impact })
	row("replaced", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Instants.Replaced })
	row("ready", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Instants.Ready })
	row("serving", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Instants.Serving })
	row("recovered", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.Instants.Recovered })
	row("end of observation", func(r *v1alpha1.Recovery) *metav1.MicroTime { return r.End })
	for _, nr := range recs {
		rec := nr.Recovery
		rv := recoveryView{
			Phase: nr.Phase, RecoveryTime: recoveryWord(rec), ServiceRTO: report.OptDuration(rec.ServiceRTO), CapacityRTO: report.OptDuration(rec.CapacityRTO),
			Objective: "-", Availability: percent(rec.Window.Availability), P99: report.FormatDuration(rec.Window.P99.Duration), RPO: report.OptDuration(rec.RPO),
			Verdict: rec.Verdict, Notes: rec.Notes,
		}
		if !rec.CapacityTracked {
			rv.CapacityRTO = "not tracked"
		}
		if rec.RPOFallback {
			rv.RPO = "fallback model served"
		}
		if obj := objective(rec); obj > 0 {
			rv.Objective = report.FormatDuration(obj)
		}
		for _, v := range rec.Verdicts {
			rv.Reasons = append(rv.Reasons, v.Objective+": "+report.Word(v.Verdict)+" — "+v.Reason)
		}
		fv.Recoveries = append(fv.Recoveries, rv)
	}
	fv.Timeline = figure("timeline-"+slug(name),
		"Timeline of "+name+". Top: the six recovery instants (circles: failover, triangles: fail-back). "+
			"Then success rate, p50 and p99 latency per second, and ready against desired replicas. "+
			"Orange shade: the failover's observation; blue: the fail-back's; solid lines: injected and reverted; dashed lines: recovered.",
		func() ([]byte, error) { return timelineChart(r, name, f) })
	var bars []rtoBar
	for _, nr := range recs {
		bars = append(bars, rtoBar{name: nr.Phase, rec: nr.Recovery})
	}
	if len(bars) > 0 {
		fv.RTO = figure("rto-"+slug(name), "Recovery time of "+name+" against its objective (red mark).",
			func() ([]byte, error) {
				return rtoChart("rto "+name, "Recovery time of "+name+" against its objective", chartWidth/2, bars)
			})
	}
	for _, ev := range r.Events {
		if ev.Fault != name {
			continue
		}
		if len(fv.Events) == maxEvents {
			fv.MoreEvents++
			continue
		}
		s := sinceTime(ev.At, inj) + " " + string(ev.Type)
		if ev.Target != nil {
			s += " " + ev.Target.String()
		}
		if ev.Message != "" {
			s += ": " + ev.Message
		}
		fv.Events = append(fv.Events, s)
	}
	return fv
}

func sinceTime(t, from time.Time) string {
	d := t.Sub(from)
	if d < 0 {
		return "-" + report.FormatDuration(-d)
	}
	return "+" + report.FormatDuration(d)
}

func recoveryWord(r *v1alpha1.Recovery) string {
	if !r.Recovered {
		return "not recovered"
	}
	return report.OptDuration(r.RecoveryTime)
}

func percent(p v1alpha1.Percent) string {
	if p == "" {
		return "-"
	}
	return string(p) + "%"
}

func recoveryText(p *trend.Point) string {
	if !p.Recovered {
		return "not recovered"
	}
	return report.FormatDuration(p.RecoveryTime.Duration)
}

func trendSection(tr *trend.Trend) (*trendView, string) {
	if tr == nil {
		return nil, "This page was rendered without the archive, so it shows no trend."
	}
	earlier := 0
	for _, r := range tr.Runs {
		if !r.Current {
			earlier++
		}
	}
	if earlier == 0 {
		return nil, "This is the first run of plan " + tr.Plan + " in the archive: there is no trend yet."
	}
	tv := &trendView{Rule: tr.Rule.String(), Runs: len(tr.Runs)}
	for i := range tr.Series {
		s := &tr.Series[i]
		caption := s.Name() + " (" + s.Type + "): recovery time per run"
		if obj := s.Points[len(s.Points)-1].Objective.Duration; obj > 0 {
			caption += "; objective " + report.FormatDuration(obj)
		}
		tv.Charts = append(tv.Charts, figure("trend-"+slug(s.Name()), caption+".",
			func() ([]byte, error) { return trendChart(s, tr.Runs, false) }))
		// The table judges this run; the chart shows the history.
		p := &s.Points[len(s.Points)-1]
		for j := range s.Points {
			if s.Points[j].Current {
				p = &s.Points[j]
			}
		}
		row := trendRow{
			Recovery: s.Name(), Time: recoveryText(p),
			Median: "-", Why: p.Why(tr.Rule), Regression: p.Regression, Current: p.Current,
		}
		if p.Judged {
			row.Median = "not recovered"
			if p.MedianRecovered {
				row.Median = report.FormatDuration(p.Median.Duration)
			}
		}
		tv.Rows = append(tv.Rows, row)
	}
	return tv, ""
}
