package drillrun

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/report"
)

// Reasons of a run's conditions besides its phases.
const (
	ReasonPending       = "Pending"
	ReasonRunning       = "Running"
	ReasonAborting      = "Aborting"
	ReasonRecovering    = "Recovering"
	ReasonRecoverFailed = "RecoverFailed"
)

// withResult returns base with the run's result from rep, every field of
// RunResult replaced (a field the engine left empty is cleared).
func withResult(base *v1alpha1.DrillRunStatus, rep *report.Report) v1alpha1.DrillRunStatus {
	st := *base.DeepCopy()
	st.RunResult = *rep.DeepCopy()
	return st
}

// progress is the status of a run in progress: the snapshot's result,
// Reconciling while it runs (Aborting once an abort was asked for).
func progress(base *v1alpha1.DrillRunStatus, rep *report.Report, gen int64, abortReason string, now time.Time) v1alpha1.DrillRunStatus {
	st := withResult(base, rep)
	st.Phase = v1alpha1.RunRunning // the engine's own phase until the end
	st.ObservedGeneration = gen
	reason, msg := ReasonRunning, "running"
	if st.CurrentStep != "" {
		msg = "running step " + st.CurrentStep
	}
	if abortReason != "" {
		reason, msg = ReasonAborting, "aborting: "+abortReason+"; reverting every active fault"
	}
	conditions.Progressing(&st.Conditions, reason, msg, gen, now)
	return st
}

// final is the status of a finished run: its final result, where its
// report is, and Ready (or Stalled for Error). The stored plan goes: the
// report keeps it.
func final(base *v1alpha1.DrillRunStatus, rep *report.Report, ref *v1alpha1.ReportReference, archiveErr error, gen int64, now time.Time) v1alpha1.DrillRunStatus {
	st := withResult(base, rep)
	st.ObservedGeneration = gen
	st.Report = ref
	st.PlanSpec = nil
	if archiveErr != nil {
		st.Message = strings.TrimPrefix(st.Message+"; ", "; ") + "the report could not be archived: " + archiveErr.Error()
	}
	ended(&st, gen, now)
	return st
}

// ended sets the conditions of a run whose phase is terminal.
func ended(st *v1alpha1.DrillRunStatus, gen int64, now time.Time) {
	msg := "verdict " + string(st.Verdict)
	if st.Verdict == "" {
		msg = "no verdict"
	}
	if st.Message != "" {
		msg += ": " + st.Message
	}
	if st.Phase == v1alpha1.RunError {
		conditions.Stall(&st.Conditions, string(st.Phase), msg, gen, now)
		return
	}
	conditions.Done(&st.Conditions, string(st.Phase), msg, gen, now)
}

// notStarted is the final status of a run that ends before anything was
// touched: Error (it cannot run: the plan is missing or refused) or
// Aborted (asked to stop before it started).
func notStarted(base *v1alpha1.DrillRunStatus, phase v1alpha1.RunPhase, msg string, gen int64, now time.Time) v1alpha1.DrillRunStatus {
	st := *base.DeepCopy()
	st.ObservedGeneration = gen
	st.Phase, st.Verdict, st.Message = phase, v1alpha1.VerdictNotJudged, msg
	st.CurrentStep = ""
	st.CompletionTime = micro(now)
	st.PlanSpec = nil
	ended(&st, gen, now)
	return st
}

// claimed is the status that claims a run for this replica: Running,
// started now, with the plan it runs.
func claimed(base *v1alpha1.DrillRunStatus, spec *v1alpha1.DrillPlanSpec, runner string, gen int64, now time.Time) v1alpha1.DrillRunStatus {
	st := *base.DeepCopy()
	st.ObservedGeneration = gen
	st.Phase, st.Runner, st.PlanSpec = v1alpha1.RunRunning, runner, spec.DeepCopy()
	st.StartTime, st.CompletionTime = micro(now), nil
	st.Verdict, st.Message = "", ""
	conditions.Progressing(&st.Conditions, ReasonRunning, "starting on "+runner, gen, now)
	return st
}

// interrupted is the status of a run whose replica stopped, once its
// faults are reverted: Interrupted, and every step still going Aborted.
func interrupted(base *v1alpha1.DrillRunStatus, by string, reverted []string, gen int64, now time.Time) v1alpha1.DrillRunStatus {
	st := *base.DeepCopy()
	st.ObservedGeneration = gen
	step := ""
	if st.CurrentStep != "" {
		step = " (step " + st.CurrentStep + ")"
	}
	what := "nothing was in effect"
	if len(reverted) > 0 {
		what = "reverted " + strings.Join(reverted, ", ")
	}
	runner := st.Runner
	if runner == "" {
		runner = "that ran it"
	}
	st.Phase, st.Verdict = v1alpha1.RunInterrupted, v1alpha1.VerdictNotJudged
	st.Message = fmt.Sprintf("interrupted: drill serve replica %s stopped while the run was going%s; replica %s %s", runner, step, by, what)
	st.CurrentStep = ""
	st.CompletionTime = micro(now)
	st.PlanSpec = nil
	for i := range st.Steps {
		s := &st.Steps[i]
		if s.Phase == v1alpha1.RunRunning {
			s.Phase, s.CompletionTime = v1alpha1.RunAborted, micro(now)
			s.Message = "interrupted"
		}
	}
	ended(&st, gen, now)
	return st
}

func micro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}
