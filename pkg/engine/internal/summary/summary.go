package summary

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Input is what a run's report is built from.
type Input struct {
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

	// State is the run's state: a copy the caller does not change while
	// Summarize reads it.
	State *runstate.State
}

// Summarize builds a run's report, and so the DrillRun status, from its
// state and samples. It is a pure function: the same input gives the same
// report, live or at the end. It is the one place that decides the run's
// phase and verdict and every step's.
func Summarize(in Input) *report.Report {
	s := in.State
	settled := in.Now.Add(-s.Settle)
	if s.Done {
		settled = s.End
	}
	rep := &report.Report{
		Schema: report.SchemaVersion, RunID: in.RunID, Tool: in.Tool, Platform: in.Platform, Endpoint: in.Endpoint,
		Trigger: in.Trigger, Cleanup: in.Cleanup, Samples: len(in.Samples),
		Plan:     report.Plan{Name: in.Plan.Name, Source: in.Plan.Source, Hash: in.Plan.Hash(), Spec: in.Plan.Spec},
		Capacity: s.Capacity, Models: s.Models, Events: s.Events,
	}
	res := &rep.RunResult
	res.StartTime = runstate.Micro(s.Start)
	if s.Done {
		res.CompletionTime = runstate.Micro(s.End)
	}
	if s.BaselineOK != nil {
		c := slo.SteadyState(in.Samples, s.Start, s.BaselineTo, s.Obj)
		res.Baseline = &c
	}
	if !s.FinalTo.IsZero() {
		c := slo.SteadyState(in.Samples, s.FinalFrom, s.FinalTo, s.Obj)
		res.Final = &c
	}
	end := in.Now
	if s.Done {
		end = s.End
	}
	overall := slo.Drill(in.Samples, s.Start, end, s.Obj)
	res.Overall = &overall
	rep.Series = slo.Series(in.Samples, s.Start, end, time.Second)
	if rep.Series == nil {
		rep.Series = []slo.Point{} // an empty series, not null
	}

	var lastEnd time.Time
	res.Steps = make([]v1alpha1.StepResult, len(s.Steps))
	for i := range s.Steps {
		st := &s.Steps[i]
		sr := v1alpha1.StepResult{Name: st.Name, Kind: st.Kind, StartTime: runstate.Micro(st.Started), CompletionTime: runstate.Micro(st.Finished), Message: st.Message}
		if f := s.Faults[i]; f != nil && !f.InjectedAt.IsZero() {
			sr.Fault = faultResult(s, f, in.Samples, settled, lastEnd)
			lastEnd = maxTime(lastEnd, observationEnd(f, settled))
		} else if f != nil && len(f.Err) > 0 {
			sr.Fault = &v1alpha1.FaultResult{Type: f.Type, Targets: apiTargets(f.Targets), Error: strings.Join(f.Err, "; ")}
		}
		sr.Phase = stepPhase(s, st, sr.Fault)
		if sr.Phase == v1alpha1.RunRunning {
			res.CurrentStep = st.Name
		}
		res.Steps[i] = sr
	}
	res.Phase, res.Verdict, res.Message = runOutcome(s, res)
	res.WorstRecovery = worstRecovery(res.Steps)
	return rep
}

// faultResult measures one injected fault as of settled.
func faultResult(s *runstate.State, f *runstate.FaultState, samples []evidence.Sample, settled, lastEnd time.Time) *v1alpha1.FaultResult {
	fr := &v1alpha1.FaultResult{
		Type: f.Type, Targets: apiTargets(f.Targets), Injected: runstate.Micro(f.InjectedAt), Reverted: runstate.Micro(f.Reverted),
		RevertFinished: runstate.Micro(f.RevertFinished),
		Actions:        f.Actions, Error: strings.Join(f.Err, "; "),
	}
	// A note's instant is shown relative to the fault's injected instant,
	// the same reference as every recovery instant.
	for _, n := range f.Notes {
		fr.Notes = append(fr.Notes, report.Since(runstate.Micro(n.At), f.InjectedAt)+": "+n.Message)
	}
	failoverEnd := f.FailoverEnd
	if failoverEnd.IsZero() || failoverEnd.After(settled) {
		failoverEnd = settled
	}
	in := runstate.FaultInput(s, f, false, failoverEnd, samples)
	in.BaselineFrom = lastEnd
	obj := faultObjectives(s, f)
	fo := slo.AnalyzeFault(in, obj)
	if hold := f.RevertStarted.Sub(f.InjectedAt); f.Timed() && !f.RevertStarted.IsZero() && !fo.Recovered && hold < s.Obj.RTO {
		// A hold shorter than the objective cannot tell whether the
		// failover would have recovered in time: its measurement goes on
		// through the revert until it recovers or observation ends.
		in.End = observationEnd(f, settled)
		fo = slo.AnalyzeFault(in, obj)
		note := fmt.Sprintf("did not recover during the %s hold, which is shorter than the %s objective, so the failover was measured on through the revert", report.FormatDuration(hold), report.FormatDuration(s.Obj.RTO))
		if fo.Recovered {
			note += ": it recovered only after the revert"
		}
		fo.Notes = append(fo.Notes, note)
	}
	fr.Failover = &fo
	pass := fo.Verdict == v1alpha1.VerdictPass
	if !f.Reverted.IsZero() {
		failbackEnd := f.FailbackEnd
		if failbackEnd.IsZero() || failbackEnd.After(settled) {
			failbackEnd = settled
		}
		in := runstate.FaultInput(s, f, true, failbackEnd, samples)
		in.BaselineFrom = lastEnd
		fb := slo.AnalyzeFault(in, obj)
		fr.Failback = &fb
		pass = pass && fb.Verdict == v1alpha1.VerdictPass
	}
	w := slo.Stats(samples, f.InjectedAt, observationEnd(f, settled), s.Obj.LatencyP99)
	fr.Window = &w
	fr.Verdict = verdictOf(pass && fr.Error == "")
	return fr
}

// faultObjectives are the objectives f is judged against: the RPO is
// about model staleness after store and region faults only.
func faultObjectives(s *runstate.State, f *runstate.FaultState) slo.Objectives {
	obj := s.Obj
	if f.Spec.ModelStoreOutage == nil && f.Spec.RegionCutover == nil {
		obj.RPO = nil
	}
	return obj
}

// observationEnd is the end of everything observed about f as of settled.
func observationEnd(f *runstate.FaultState, settled time.Time) time.Time {
	end := f.FailoverEnd
	if !f.Reverted.IsZero() {
		end = f.FailbackEnd
	}
	if end.IsZero() || end.After(settled) {
		return settled
	}
	return end
}

// stepPhase is a step's phase, from where it is and what it measured.
func stepPhase(s *runstate.State, st *runstate.StepState, fr *v1alpha1.FaultResult) v1alpha1.RunPhase {
	switch {
	case st.Skipped:
		return v1alpha1.RunSucceeded
	case st.Started.IsZero():
		return v1alpha1.RunPending
	case fr != nil && fr.Error != "":
		return v1alpha1.RunError
	case st.Interrupted:
		return v1alpha1.RunAborted
	case st.Finished.IsZero():
		return v1alpha1.RunRunning
	case fr != nil && fr.Verdict != v1alpha1.VerdictPass:
		return v1alpha1.RunFailed
	}
	return v1alpha1.RunSucceeded
}

// runOutcome decides the run's phase, verdict and message: an Aborted or
// Error run is never a Pass, and each message states its cause once.
func runOutcome(s *runstate.State, res *v1alpha1.RunResult) (v1alpha1.RunPhase, v1alpha1.Verdict, string) {
	if !s.Done {
		return v1alpha1.RunRunning, "", ""
	}
	var failedRevert []string
	for _, st := range res.Steps {
		if st.Fault != nil && strings.Contains(st.Fault.Error, "revert: ") {
			failedRevert = append(failedRevert, st.Name)
		}
	}
	switch {
	case s.Abort != nil && s.Abort.Kind == runstate.AbortInterrupted:
		return v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, s.Abort.Reason + "; every active fault was reverted"
	case s.Abort != nil && s.Abort.Kind == runstate.AbortByCondition:
		return v1alpha1.RunAborted, v1alpha1.VerdictFail, "aborted: " + s.Abort.Reason + "; every active fault was reverted"
	case len(s.Errs) > 0:
		return v1alpha1.RunError, v1alpha1.VerdictNotJudged, strings.Join(s.Errs, "; ")
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

// apiTargets are targets as a result reports them.
func apiTargets(ts []evidence.Target) []v1alpha1.FaultTarget {
	out := make([]v1alpha1.FaultTarget, len(ts))
	for i, t := range ts {
		out[i] = v1alpha1.FaultTarget{Kind: string(t.Kind), Name: t.Name, Region: t.Region}
	}
	return out
}
