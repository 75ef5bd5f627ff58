package html

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
)

// FileName is the page's name in a report set.
const FileName = "report.html"

//go:embed page.html.tmpl
var pageTemplate string

//go:embed page.css
var pageCSS string

// tmpl is parsed once; it is immutable after.
var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"verdictClass": verdictClass,
	"word":         report.Word,
}).Parse(pageTemplate))

// Render renders r as a self-contained HTML page. tr is the plan's trend
// over earlier runs from the archive, the run itself included as current;
// nil renders the page without a trend and says so.
func Render(r *report.Report, tr *trend.Trend) ([]byte, error) {
	pg, err := build(r, tr)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(256 << 10)
	if err := tmpl.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("rendering report.html: %w", err)
	}
	return buf.Bytes(), nil
}

// page is what the template shows.
type page struct {
	CSS         template.CSS
	Title       string
	Plan        string
	RunID       string
	Phase       v1alpha1.RunPhase
	Verdict     v1alpha1.Verdict
	Message     string
	Facts       []fact
	Objectives  []fact
	Checks      []check
	Regressions []string
	Summary     []summaryRow
	RTO         chart
	Overview    chart
	Faults      []faultView
	Trend       *trendView
	NoTrend     string
	Footer      string
}

type fact struct{ Name, Value string }

type check struct {
	Check, Objective, Target, Measured, Reason string
	Verdict                                    v1alpha1.Verdict
}

// chart is one figure: its SVG, or why it is missing.
type chart struct {
	Name    string
	SVG     template.HTML
	Caption string
	Missing string
}

type faultView struct {
	ID, Name, Type, Targets, Error string
	Word, Class                    string
	Injected                       string
	Timeline, RTO                  chart
	Phases                         []string
	Instants                       [][]string
	Recoveries                     []recoveryView
	Notes                          []string
	Events                         []string
	MoreEvents                     int
	Actions                        []string
}

type recoveryView struct {
	Phase, RecoveryTime, ServiceRTO, CapacityRTO, Objective, Availability, P99, RPO string
	Verdict                                                                         v1alpha1.Verdict
	Reasons, Notes                                                                  []string
}

type trendView struct {
	Rule   string
	Runs   int
	Charts []chart
	Rows   []trendRow
}

type trendRow struct {
	Recovery, Time, Median, Why string
	Regression, Current         bool
}

func verdictClass(v v1alpha1.Verdict) string {
	switch v {
	case v1alpha1.VerdictPass:
		return "pass"
	case v1alpha1.VerdictFail:
		return "fail"
	}
	return "none"
}

// maxEvents bounds the platform events listed per fault, so a fault that
// produced thousands of events cannot bloat the page.
const maxEvents = 40

func build(r *report.Report, tr *trend.Trend) (*page, error) {
	pg := &page{
		CSS: template.CSS(pageCSS), Title: "Drill " + r.Plan.Name + " — " + report.Word(r.Verdict),
		Plan: r.Plan.Name, RunID: r.RunID, Phase: r.Phase, Verdict: r.Verdict, Message: r.Message,
	}
	pg.Facts = facts(r)
	pg.Objectives = objectives(&r.Plan.Spec.Objectives)
	pg.Checks = checks(r)
	pg.Summary = summary(r)

	var bars []rtoBar
	for _, s := range r.Faults() {
		for _, nr := range report.Recoveries(s.Name, s.Fault) {
			bars = append(bars, rtoBar{name: nr.Name, rec: nr.Recovery})
		}
	}
	if len(bars) > 0 {
		pg.RTO = figure("rto", "Recovery time of every failover and fail-back against its objective (red mark).",
			func() ([]byte, error) {
				return rtoChart("rto", "Recovery time of every failover and fail-back against its objective", chartWidth, bars)
			})
	} else {
		pg.RTO = chart{Name: "rto", Missing: "No fault was measured."}
	}
	pg.Overview = figure("overview", "The whole drill, per second. Orange: a fault's failover; blue: its fail-back.", func() ([]byte, error) { return overviewChart(r) })

	for _, s := range r.Faults() {
		pg.Faults = append(pg.Faults, faultSection(r, s.Name, s.Fault))
	}
	pg.Trend, pg.NoTrend = trendSection(tr)
	if tr != nil {
		rule := tr.Rule
		for _, fl := range tr.Regressions() {
			pg.Regressions = append(pg.Regressions, fl.Series.Name()+": "+recoveryText(fl.Point)+" — "+fl.Point.Why(rule))
		}
	}
	pg.Footer = fmt.Sprintf("firedrill %s (%s, %s) · report schema %s · every number on this page is read from report.json, "+
		"which holds the per-second series and the instants they were computed from.", r.Tool.Version, r.Tool.Commit, r.Tool.GoVersion, r.Schema)
	return pg, nil
}

// figure renders a chart, keeping the page when the chart fails: the
// figure then says why it is missing.
func figure(name, caption string, draw func() ([]byte, error)) chart {
	svg, err := draw()
	if err != nil {
		return chart{Name: name, Missing: "This chart could not be drawn: " + err.Error()}
	}
	if svg == nil {
		return chart{Name: name, Missing: "No data to draw."}
	}
	return chart{Name: name, SVG: template.HTML(svg), Caption: caption} //nolint:gosec // SVG from gonum/plot; it escapes every text it writes.
}

func facts(r *report.Report) []fact {
	fs := []fact{{"run", r.RunID}, {"plan", r.Plan.Name}, {"phase", string(r.Phase)}}
	if r.Trigger != "" {
		fs = append(fs, fact{"trigger", string(r.Trigger)})
	}
	fs = append(fs, fact{"platform", r.Platform}, fact{"endpoint", r.Endpoint})
	if r.StartTime != nil {
		fs = append(fs, fact{"started", r.StartTime.UTC().Format(time.RFC3339)})
	}
	if r.StartTime != nil && r.CompletionTime != nil {
		fs = append(fs, fact{"finished", r.CompletionTime.UTC().Format(time.RFC3339) + " (" + report.FormatDuration(r.CompletionTime.Sub(r.StartTime.Time)) + ")"})
	}
	fs = append(fs, fact{"requests", fmt.Sprint(r.Samples)})
	if r.WorstRecovery != "" {
		fs = append(fs, fact{"worst recovery", r.WorstRecovery})
	}
	fs = append(fs, fact{"plan hash", r.Plan.Hash})
	if r.Plan.Source != "" {
		fs = append(fs, fact{"plan source", r.Plan.Source})
	}
	return fs
}

func objectives(o *v1alpha1.Objectives) []fact {
	var fs []fact
	dur := func(name string, v *metav1.Duration, meaning string) {
		if v != nil {
			fs = append(fs, fact{name, report.FormatDuration(v.Duration) + " — " + meaning})
		}
	}
	dur("rto", o.RTO, "the longest recovery time allowed for each fault's failover")
	dur("failbackRTO", o.FailbackRTO, "the longest recovery time allowed after each revert (the fail-back)")
	dur("rpo", o.RPO, "the model staleness allowed after a store or region fault")
	if o.Availability != "" {
		fs = append(fs, fact{"availability", string(o.Availability) + "% — the least success rate over the whole drill"})
	}
	dur("latencyP99", o.LatencyP99, "the highest p99 latency over the whole drill")
	var rec []string
	if o.Recovered.SuccessRate != "" {
		rec = append(rec, "success rate ≥ "+string(o.Recovered.SuccessRate)+"%")
	}
	if o.Recovered.LatencyP99 != nil {
		rec = append(rec, "p99 ≤ "+report.FormatDuration(o.Recovered.LatencyP99.Duration))
	}
	if o.Recovered.For != nil {
		rec = append(rec, "for "+report.FormatDuration(o.Recovered.For.Duration))
	}
	if len(rec) > 0 {
		fs = append(fs, fact{"recovered", strings.Join(rec, ", ") + ", with capacity back — when a fault counts as recovered"})
	}
	return fs
}
