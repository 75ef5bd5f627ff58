package follow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/drillrun"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/report"
)

// Line is one progress line: what happened, when, to which step.
type Line struct {
	// At is the instant, from the status; zero when unknown.
	At time.Time
	// Elapsed is At since the run started.
	Elapsed time.Duration
	// Event is the engine's word for it: started, step, injected,
	// recovered, reverted, aborting, finished.
	Event string
	// Step is the step it is about.
	Step string
	// Message says it.
	Message string
}

// String writes the line as drill run does.
func (l Line) String() string {
	s := fmt.Sprintf("%6.1fs  %-10s", l.Elapsed.Seconds(), l.Event)
	if l.Step != "" {
		s += " " + l.Step + ":"
	}
	return strings.TrimRight(s+" "+l.Message, " ")
}

// Diff returns what happened between two observations of a run (prev nil
// for the first), oldest first.
func Diff(prev, next *v1alpha1.DrillRun) []Line {
	var was v1alpha1.DrillRunStatus
	if prev != nil {
		was = prev.Status
	}
	st := &next.Status
	start := time.Time{}
	if st.StartTime != nil {
		start = st.StartTime.Time
	}
	var out []Line
	add := func(at *metav1.MicroTime, event, step, msg string) {
		l := Line{Event: event, Step: step, Message: msg}
		if at != nil {
			l.At = at.Time
			if !start.IsZero() {
				l.Elapsed = at.Sub(start)
			}
		}
		out = append(out, l)
	}
	if st.StartTime != nil && was.StartTime == nil {
		msg := fmt.Sprintf("run %s/%s of plan %s", next.Namespace, next.Name, planName(next))
		if st.Runner != "" {
			msg += " on drill serve replica " + st.Runner
		}
		add(st.StartTime, "started", "", msg)
	}
	for _, s := range st.Steps {
		old := stepOf(was.Steps, s.Name)
		if s.StartTime != nil && (old == nil || old.StartTime == nil) {
			desc := string(s.Kind)
			if s.Fault != nil {
				desc = s.Fault.Type
			}
			add(s.StartTime, "step", s.Name, desc)
		}
		f := s.Fault
		if f == nil {
			continue
		}
		var of *v1alpha1.FaultResult
		if old != nil {
			of = old.Fault
		}
		if f.Injected != nil && (of == nil || of.Injected == nil) {
			add(f.Injected, "injected", s.Name, fmt.Sprintf("%s on %s", f.Type, targetNames(f.Targets)))
		}
		if rec := f.Failover; rec != nil && rec.Recovered && (of == nil || of.Failover == nil || !of.Failover.Recovered) {
			add(rec.Instants.Recovered, "recovered", s.Name, "recovered"+in(rec.RecoveryTime))
		}
		if f.Reverted != nil && (of == nil || of.Reverted == nil) {
			add(f.Reverted, "reverted", s.Name, "reverting")
		}
		if rec := f.Failback; rec != nil && rec.Recovered && (of == nil || of.Failback == nil || !of.Failback.Recovered) {
			add(rec.Instants.Recovered, "recovered", s.Name, "fail-back recovered"+in(rec.RecoveryTime))
		}
	}
	if c := meta.FindStatusCondition(st.Conditions, conditions.Reconciling); c != nil && c.Reason == drillrun.ReasonAborting {
		if o := meta.FindStatusCondition(was.Conditions, conditions.Reconciling); o == nil || o.Reason != drillrun.ReasonAborting {
			out = append(out, Line{At: c.LastTransitionTime.Time, Elapsed: since(c.LastTransitionTime.Time, start), Event: "aborting", Message: strings.TrimPrefix(c.Message, "aborting: ")})
		}
	}
	slices.SortStableFunc(out, func(a, b Line) int { return a.At.Compare(b.At) })
	if st.Phase.IsTerminal() && !was.Phase.IsTerminal() {
		msg := string(st.Phase) + ", verdict " + string(st.Verdict)
		if st.Message != "" {
			msg += ": " + st.Message
		}
		add(st.CompletionTime, "finished", "", msg)
	}
	return out
}

// Status is the periodic status line of a run in progress: its step, the
// SLIs over the drill so far, and the faults in effect.
func Status(run *v1alpha1.DrillRun, now time.Time) string {
	st := &run.Status
	elapsed := time.Duration(0)
	if st.StartTime != nil {
		elapsed = now.Sub(st.StartTime.Time)
	}
	var reqs int64
	success, p99 := "-", "-"
	if o := st.Overall; o != nil {
		reqs = o.Stats.Requests
		if o.Stats.Availability != "" {
			success = string(o.Stats.Availability) + "%"
		}
		p99 = report.FormatDuration(o.Stats.P99.Duration)
	}
	var active []string
	for _, e := range st.Journal {
		if e.State.Unfinished() {
			active = append(active, e.Step)
		}
	}
	faults := "none"
	if len(active) > 0 {
		slices.Sort(active)
		faults = strings.Join(active, ",")
	}
	return fmt.Sprintf("%6.1fs  step %-20s  %4d req  success %7s  p99 %-7s  active faults: %s", elapsed.Seconds(), st.CurrentStep, reqs, success, p99, faults)
}

func stepOf(steps []v1alpha1.StepResult, name string) *v1alpha1.StepResult {
	for i := range steps {
		if steps[i].Name == name {
			return &steps[i]
		}
	}
	return nil
}

func targetNames(ts []v1alpha1.FaultTarget) string {
	out := make([]evidence.Target, len(ts))
	for i, t := range ts {
		out[i] = evidence.Target{Kind: evidence.TargetKind(t.Kind), Name: t.Name}
	}
	return evidence.TargetNames(out)
}

func in(d *metav1.Duration) string {
	if d == nil {
		return ""
	}
	return " in " + report.FormatDuration(d.Duration)
}

func since(t, start time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	return t.Sub(start)
}

func planName(r *v1alpha1.DrillRun) string {
	if r.Spec.PlanRef != nil {
		return r.Spec.PlanRef.Name
	}
	return r.Name
}
