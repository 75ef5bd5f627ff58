package trend

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/report"
)

// Rule says when a recovery counts as a regression.
type Rule struct {
	// Window is how many previous measurements of the same recovery the
	// median is taken over.
	Window int `json:"window"`
	// MinRuns is the fewest previous measurements needed to judge; with
	// fewer, nothing is flagged.
	MinRuns int `json:"minRuns"`
	// Threshold is how much longer than the median, as a fraction, counts
	// as a regression (0.2 is 20%).
	Threshold float64 `json:"threshold"`
	// MinDelta is the least absolute difference that counts, so that
	// jitter on a sub-second recovery is not flagged.
	MinDelta index.Duration `json:"minDelta"`
}

// DefaultRule flags a recovery more than 20% and more than 100 ms slower
// than the median of the same fault's previous 5 runs (3 at least).
func DefaultRule() Rule {
	return Rule{Window: 5, MinRuns: 3, Threshold: 0.2, MinDelta: index.Duration{Duration: 100 * time.Millisecond}}
}

// String states the rule for people.
func (r Rule) String() string {
	return fmt.Sprintf("A recovery is a regression when its recovery time is more than %g%% and more than %s "+
		"above the median recovery time of the same fault (same step, same failover or fail-back) "+
		"in the plan's previous %d runs that measured it (at least %d are needed), "+
		"or when it did not recover and that median did.",
		math.Round(r.Threshold*1000)/10, report.FormatDuration(r.MinDelta.Duration), r.Window, r.MinRuns)
}

// Trend is a plan's recoveries across its runs.
type Trend struct {
	// Plan is the plan's name.
	Plan string `json:"plan"`
	// Rule is the regression rule applied.
	Rule Rule `json:"rule"`
	// Runs are the runs considered, oldest first.
	Runs []Run `json:"runs"`
	// Series are one per fault step and recovery phase, in the order of
	// the newest run's steps, then any older steps.
	Series []Series `json:"series"`
}

// Run is one run of the trend.
type Run struct {
	// RunID names the run.
	RunID string `json:"runID"`
	// Start is when it started.
	Start time.Time `json:"start"`
	// Phase and Verdict are the run's.
	Phase   v1alpha1.RunPhase `json:"phase"`
	Verdict v1alpha1.Verdict  `json:"verdict,omitempty"`
	// Current marks the run a report is about.
	Current bool `json:"current,omitempty"`
}

// Series is one recovery of one fault step across runs.
type Series struct {
	// Fault is the step's name.
	Fault string `json:"fault"`
	// Type is the fault type in the newest run that has the step.
	Type string `json:"type"`
	// Phase is index.Failover or index.Failback.
	Phase string `json:"phase"`
	// Points are the runs that measured the recovery, oldest first.
	Points []Point `json:"points"`
}

// Name is the step name, with " (fail-back)" for a fail-back.
func (s *Series) Name() string {
	if s.Phase == index.Failback {
		return s.Fault + " (fail-back)"
	}
	return s.Fault
}

// Point is one run's measurement of a recovery, judged against the
// previous ones.
type Point struct {
	// RunID and Start identify the run.
	RunID string    `json:"runID"`
	Start time.Time `json:"start"`
	// Current marks the run a report is about.
	Current bool `json:"current,omitempty"`
	// Recovered is false when the recovery was not reached.
	Recovered bool `json:"recovered"`
	// RecoveryTime is the measured recovery time when Recovered.
	RecoveryTime index.Duration `json:"recoveryTime"`
	// Objective is what the recovery time was judged against; 0 when not
	// judged.
	Objective index.Duration `json:"objective"`
	// Previous is how many earlier measurements the median is over.
	Previous int `json:"previous"`
	// Judged is true when there were at least Rule.MinRuns of them.
	Judged bool `json:"judged"`
	// Median of the previous measurements; MedianRecovered is false when
	// that median itself did not recover.
	Median          index.Duration `json:"median"`
	MedianRecovered bool           `json:"medianRecovered"`
	// Regression is true when the rule flags this measurement.
	Regression bool `json:"regression"`
}

// Change is (recovery time − median) / median; NaN when it is not defined
// (not judged, not recovered, or a zero median).
func (p *Point) Change() float64 {
	if !p.Judged || !p.Recovered || !p.MedianRecovered || p.Median.Duration == 0 {
		return math.NaN()
	}
	return float64(p.RecoveryTime.Duration-p.Median.Duration) / float64(p.Median.Duration)
}

// Why explains the point's judgement in a sentence.
func (p *Point) Why(r Rule) string {
	switch {
	case !p.Judged:
		return fmt.Sprintf("not judged: %s, %d needed", runs(p.Previous, "previous run"), r.MinRuns)
	case !p.MedianRecovered:
		return fmt.Sprintf("the median of the %s did not recover", runs(p.Previous, "previous run"))
	case !p.Recovered && p.Regression:
		return fmt.Sprintf("did not recover; the %s recovered in %s (median)", runs(p.Previous, "previous run"), report.FormatDuration(p.Median.Duration))
	}
	d := p.RecoveryTime.Duration - p.Median.Duration
	pct := ""
	if c := p.Change(); !math.IsNaN(c) {
		pct = fmt.Sprintf(" (%+.0f%%)", 100*c)
	}
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	verb := "within the rule"
	if p.Regression {
		verb = "regression"
	}
	return fmt.Sprintf("%s: %s%s%s against the median %s of the %s", verb, sign, report.FormatDuration(d), pct, report.FormatDuration(p.Median.Duration), runs(p.Previous, "previous run"))
}

// runs counts n things: "1 previous run", "3 previous runs".
func runs(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Analyze follows every fault step of runs (oldest first, one plan) and
// judges each measurement against the previous ones by rule. current
// names the run a report is about; it may be empty.
func Analyze(plan string, runs []index.Entry, current string, rule Rule) Trend {
	t := Trend{Plan: plan, Rule: rule, Runs: make([]Run, 0, len(runs))}
	type key struct{ fault, phase string }
	pos := map[key]int{}
	var order []key
	types := map[key]string{}
	points := map[key][]Point{}
	// Walk newest first to order series by the newest run's steps.
	for i := len(runs) - 1; i >= 0; i-- {
		for _, f := range runs[i].Faults {
			for _, phase := range []string{index.Failover, index.Failback} {
				if f.Recovery(phase) == nil {
					continue
				}
				k := key{f.Name, phase}
				if _, ok := pos[k]; !ok {
					pos[k] = len(order)
					order = append(order, k)
					types[k] = f.Type
				}
			}
		}
	}
	for _, e := range runs {
		t.Runs = append(t.Runs, Run{RunID: e.RunID, Start: e.StartTime, Phase: e.Phase, Verdict: e.Verdict, Current: e.RunID == current && current != ""})
		for _, f := range e.Faults {
			for _, phase := range []string{index.Failover, index.Failback} {
				rec := f.Recovery(phase)
				if rec == nil {
					continue
				}
				k := key{f.Name, phase}
				p := Point{RunID: e.RunID, Start: e.StartTime, Current: e.RunID == current && current != "", Recovered: rec.Recovered && rec.RecoveryTime != nil}
				if p.Recovered {
					p.RecoveryTime = *rec.RecoveryTime
				}
				if rec.Objective != nil {
					p.Objective = *rec.Objective
				}
				judge(&p, points[k], rule)
				points[k] = append(points[k], p)
			}
		}
	}
	for _, k := range order {
		t.Series = append(t.Series, Series{Fault: k.fault, Type: types[k], Phase: k.phase, Points: points[k]})
	}
	return t
}

// judge sets p's median and flag from the previous points.
func judge(p *Point, previous []Point, rule Rule) {
	if n := len(previous); n > rule.Window && rule.Window > 0 {
		previous = previous[n-rule.Window:]
	}
	p.Previous = len(previous)
	if p.Previous == 0 || p.Previous < rule.MinRuns {
		return
	}
	p.Judged = true
	var m time.Duration
	m, p.MedianRecovered = median(previous)
	p.Median = index.Duration{Duration: m}
	switch {
	case !p.MedianRecovered:
		// Nothing to regress from.
	case !p.Recovered:
		p.Regression = true
	default:
		d := p.RecoveryTime.Duration - m
		p.Regression = d > rule.MinDelta.Duration && float64(p.RecoveryTime.Duration) > float64(m)*(1+rule.Threshold)
	}
}

// median of the points' recovery times, a recovery that was not reached
// counting as infinitely long; ok is false when the median is such one.
func median(ps []Point) (time.Duration, bool) {
	const never = time.Duration(math.MaxInt64)
	vs := make([]time.Duration, len(ps))
	for i, p := range ps {
		vs[i] = never
		if p.Recovered {
			vs[i] = p.RecoveryTime.Duration
		}
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], vs[n/2] != never
	}
	a, b := vs[n/2-1], vs[n/2]
	if b == never {
		return 0, false
	}
	return a + (b-a)/2, true
}

// Regressions lists the regressions flagged in the current run.
func (t *Trend) Regressions() []Flagged {
	var out []Flagged
	for i := range t.Series {
		s := &t.Series[i]
		for j := range s.Points {
			if p := &s.Points[j]; p.Current && p.Regression {
				out = append(out, Flagged{Series: s, Point: p})
			}
		}
	}
	return out
}

// Flagged is a regression: a point and its series.
type Flagged struct {
	// Series is the recovery that regressed.
	Series *Series
	// Point is the measurement.
	Point *Point
}
