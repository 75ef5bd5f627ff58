package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// SummaryInput is what a run's report is built from.
type SummaryInput struct {
	RunID    string
	Plan     *plan.Plan
	Tool     report.Tool
	Platform string
	Endpoint string
	Trigger  v1alpha1.Trigger
	Cleanup  []string
	// Samples are every probe sample of the run, ordered by send time.
	Samples []evidence.Sample
	// Now is the instant the summary is as of: the end of a finished run.
	Now time.Time

	state *state
}

// Summarize builds a run's report, and so the DrillRun status, from its
// state and samples. It is a pure function: the same input gives the same
// report, live or at the end. It is the one place that decides the run's
// phase and verdict and every step's.
func Summarize(in SummaryInput) *report.Report {
	s := in.state
	settled := in.Now.Add(-s.settle)
	if s.done {
		settled = s.end
	}
	rep := &report.Report{
		Schema: report.SchemaVersion, RunID: in.RunID, Tool: in.Tool, Platform: in.Platform, Endpoint: in.Endpoint,
		Trigger: in.Trigger, Cleanup: in.Cleanup, Samples: len(in.Samples),
		Plan:     report.Plan{Name: in.Plan.Name, Source: in.Plan.Source, Hash: in.Plan.Hash(), Spec: in.Plan.Spec},
		Capacity: s.capacity, Models: s.models, Events: s.events,
	}
	res := &rep.RunResult
	res.StartTime = micro(s.start)
	if s.done {
		res.CompletionTime = micro(s.end)
	}
	if s.baselineOK != nil {
		c := slo.SteadyState(in.Samples, s.start, s.baselineTo, s.obj)
		res.Baseline = &c
	}
	if !s.finalTo.IsZero() {
		c := slo.SteadyState(in.Samples, s.finalFrom, s.finalTo, s.obj)
		res.Final = &c
	}
	end := in.Now
	if s.done {
		end = s.end
	}
	overall := slo.Drill(in.Samples, s.start, end, s.obj)
	res.Overall = &overall
	rep.Series = slo.Series(in.Samples, s.start, end, time.Second)
	if rep.Series == nil {
		rep.Series = []slo.Point{} // an empty series, not null
	}

	var lastEnd time.Time
	res.Steps = make([]v1alpha1.StepResult, len(s.steps))
	for i := range s.steps {
		st := &s.steps[i]
		sr := v1alpha1.StepResult{Name: st.name, Kind: st.kind, StartTime: micro(st.started), CompletionTime: micro(st.finished), Message: st.message}
		if f := s.faults[i]; f != nil && !f.injectedAt.IsZero() {
			sr.Fault = faultResult(s, f, in.Samples, settled, lastEnd)
			lastEnd = maxTime(lastEnd, observationEnd(f, settled))
		} else if f != nil && len(f.err) > 0 {
			sr.Fault = &v1alpha1.FaultResult{Type: f.typ, Targets: apiTargets(f.targets), Error: strings.Join(f.err, "; ")}
		}
		sr.Phase = stepPhase(s, st, sr.Fault)
		if sr.Phase == v1alpha1.RunRunning {
			res.CurrentStep = st.name
		}
		res.Steps[i] = sr
	}
	res.Phase, res.Verdict, res.Message = runOutcome(s, res)
	res.WorstRecovery = worstRecovery(res.Steps)
	return rep
}

// faultResult measures one injected fault as of settled.
func faultResult(s *state, f *faultState, samples []evidence.Sample, settled, lastEnd time.Time) *v1alpha1.FaultResult {
	fr := &v1alpha1.FaultResult{
		Type: f.typ, Targets: apiTargets(f.targets), Injected: micro(f.injectedAt), Reverted: micro(f.reverted),
		RevertFinished: micro(f.revertFinished),
		Actions:        f.actions, Error: strings.Join(f.err, "; "),
	}
	// A note's instant is shown relative to the fault's injected instant,
	// the same reference as every recovery instant.
	for _, n := range f.notes {
		fr.Notes = append(fr.Notes, report.Since(micro(n.At), f.injectedAt)+": "+n.Message)
	}
	failoverEnd := f.failoverEnd
	if failoverEnd.IsZero() || failoverEnd.After(settled) {
		failoverEnd = settled
	}
	in := faultInput(s, f, false, failoverEnd, samples)
	in.BaselineFrom = lastEnd
	obj := faultObjectives(s, f)
	fo := slo.AnalyzeFault(in, obj)
	if hold := f.revertStarted.Sub(f.injectedAt); f.timed() && !f.revertStarted.IsZero() && !fo.Recovered && hold < s.obj.RTO {
		// A hold shorter than the objective cannot tell whether the
		// failover would have recovered in time: its measurement goes on
		// through the revert until it recovers or observation ends.
		in.End = observationEnd(f, settled)
		fo = slo.AnalyzeFault(in, obj)
		note := fmt.Sprintf("did not recover during the %s hold, which is shorter than the %s objective, so the failover was measured on through the revert", report.FormatDuration(hold), report.FormatDuration(s.obj.RTO))
		if fo.Recovered {
			note += ": it recovered only after the revert"
		}
		fo.Notes = append(fo.Notes, note)
	}
	fr.Failover = &fo
	pass := fo.Verdict == v1alpha1.VerdictPass
	if !f.reverted.IsZero() {
		failbackEnd := f.failbackEnd
		if failbackEnd.IsZero() || failbackEnd.After(settled) {
			failbackEnd = settled
		}
		in := faultInput(s, f, true, failbackEnd, samples)
		in.BaselineFrom = lastEnd
		fb := slo.AnalyzeFault(in, obj)
		fr.Failback = &fb
		pass = pass && fb.Verdict == v1alpha1.VerdictPass
	}
	w := slo.Stats(samples, f.injectedAt, observationEnd(f, settled), s.obj.LatencyP99)
	fr.Window = &w
	fr.Verdict = verdictOf(pass && fr.Error == "")
	return fr
}

// faultInput is what slo needs to measure f's failover (or its
// fail-back) up to end.
func faultInput(s *state, f *faultState, failback bool, end time.Time, samples []evidence.Sample) slo.FaultInput {
	in := slo.FaultInput{
		Name: f.id, Start: f.injectedAt, ImpactFrom: f.impactFrom, End: end,
		Samples: samples, Capacity: s.capacity, Models: s.models,
	}
	// Replacement capacity counts from the moment the inject (or revert)
	// began: a controller may replace a pod before the platform's call that
	// deleted it has returned.
	since := f.injectStarted
	if failback {
		in.Start, in.ImpactFrom, in.Failback = f.reverted, f.revertFrom, true
		since = f.revertStarted
	}
	if end.Before(in.Start) {
		in.End = in.Start
	}
	// ... and until the end of this recovery's observation.
	for _, t := range append(slices.Clip(f.replaced), s.replaced...) {
		if !t.Before(since) && t.Before(in.End) && (in.Replaced == nil || t.Before(*in.Replaced)) {
			at := t
			in.Replaced = &at
		}
	}
	if f.spec.ModelStoreOutage != nil || f.spec.RegionCutover != nil {
		in.NewestPublishedBefore = newestBefore(s.published, f.injectedAt)
	}
	return in
}

// faultObjectives are the objectives f is judged against: the RPO is
// about model staleness after store and region faults only.
func faultObjectives(s *state, f *faultState) slo.Objectives {
	obj := s.obj
	if f.spec.ModelStoreOutage == nil && f.spec.RegionCutover == nil {
		obj.RPO = nil
	}
	return obj
}

// observationEnd is the end of everything observed about f as of settled.
func observationEnd(f *faultState, settled time.Time) time.Time {
	end := f.failoverEnd
	if !f.reverted.IsZero() {
		end = f.failbackEnd
	}
	if end.IsZero() || end.After(settled) {
		return settled
	}
	return end
}

func newestBefore(published []evidence.ModelObservation, t time.Time) *evidence.ModelObservation {
	var newest *evidence.ModelObservation
	for i := range published {
		p := published[i]
		if !p.CreatedAt.After(t) && (newest == nil || p.CreatedAt.After(newest.CreatedAt)) {
			newest = &p
		}
	}
	return newest
}

// stepPhase is a step's phase, from where it is and what it measured.
func stepPhase(s *state, st *stepState, fr *v1alpha1.FaultResult) v1alpha1.RunPhase {
	switch {
	case st.skipped:
		return v1alpha1.RunSucceeded
	case st.started.IsZero():
		return v1alpha1.RunPending
	case fr != nil && fr.Error != "":
		return v1alpha1.RunError
	case st.interrupted:
		return v1alpha1.RunAborted
	case st.finished.IsZero():
		return v1alpha1.RunRunning
	case fr != nil && fr.Verdict != v1alpha1.VerdictPass:
		return v1alpha1.RunFailed
	}
	return v1alpha1.RunSucceeded
}

// runOutcome decides the run's phase, verdict and message: an Aborted or
// Error run is never a Pass, and each message states its cause once.
func runOutcome(s *state, res *v1alpha1.RunResult) (v1alpha1.RunPhase, v1alpha1.Verdict, string) {
	if !s.done {
		return v1alpha1.RunRunning, "", ""
	}
	var failedRevert []string
	for _, st := range res.Steps {
		if st.Fault != nil && strings.Contains(st.Fault.Error, "revert: ") {
			failedRevert = append(failedRevert, st.Name)
		}
	}
	switch {
	case s.abort != nil && s.abort.kind == abortInterrupted:
		return v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, s.abort.reason + "; every active fault was reverted"
	case s.abort != nil && s.abort.kind == abortByCondition:
		return v1alpha1.RunAborted, v1alpha1.VerdictFail, "aborted: " + s.abort.reason + "; every active fault was reverted"
	case len(s.errs) > 0:
		return v1alpha1.RunError, v1alpha1.VerdictNotJudged, strings.Join(s.errs, "; ")
	case len(failedRevert) > 0:
		return v1alpha1.RunError, v1alpha1.VerdictNotJudged,
			"could not revert " + strings.Join(failedRevert, ", ") + "; drill cleanup retries it"
	}
	pass := true
	for _, c := range []*v1alpha1.CheckResult{res.Baseline, res.Final, res.Overall} {
		pass = pass && (c == nil || c.Verdict == v1alpha1.VerdictPass)
	}
	for _, st := range res.Steps {
		pass = pass && (st.Phase == v1alpha1.RunSucceeded || (st.Kind == v1alpha1.StepWait && st.Phase != v1alpha1.RunPending))
	}
	if pass {
		return v1alpha1.RunSucceeded, v1alpha1.VerdictPass, ""
	}
	return v1alpha1.RunFailed, v1alpha1.VerdictFail, ""
}

// worstRecovery is the longest recovery against its objective, for
// kubectl's print column: "12.1s/30s", or "not recovered/30s".
func worstRecovery(steps []v1alpha1.StepResult) string {
	out := ""
	var worst time.Duration = -1
	for _, st := range steps {
		if st.Fault == nil || st.Phase == v1alpha1.RunRunning {
			continue // a recovery still observed has no verdict yet
		}
		for _, nr := range report.Recoveries(st.Name, st.Fault) {
			rec := nr.Recovery
			target := "-"
			for _, v := range rec.Verdicts {
				if v.Objective == slo.ObjectiveRTO || v.Objective == slo.ObjectiveFailbackRTO {
					target = v.Target
				}
			}
			if !rec.Recovered {
				return "not recovered/" + target
			}
			if d := durationOf(rec.RecoveryTime); d > worst {
				worst, out = d, report.FormatDuration(d)+"/"+target
			}
		}
	}
	return out
}

func durationOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func verdictOf(pass bool) v1alpha1.Verdict {
	if pass {
		return v1alpha1.VerdictPass
	}
	return v1alpha1.VerdictFail
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
