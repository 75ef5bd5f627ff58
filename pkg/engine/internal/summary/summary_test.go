package summary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
)

// The engine's tests (pkg/engine) run whole drills through Summarize; these
// pin the run's outcome rules on hand-built states.

func TestRunOutcome(t *testing.T) {
	pass := &v1alpha1.CheckResult{Verdict: v1alpha1.VerdictPass}
	fail := &v1alpha1.CheckResult{Verdict: v1alpha1.VerdictFail}
	succeeded := v1alpha1.StepResult{Name: "kill", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded}
	tests := []struct {
		name        string
		s           runstate.State
		res         v1alpha1.RunResult
		wantPhase   v1alpha1.RunPhase
		wantVerdict v1alpha1.Verdict
		wantMessage string
	}{
		{
			name:      "a run still going is Running with no verdict",
			s:         runstate.State{Errs: []string{"ignored until the end"}},
			wantPhase: v1alpha1.RunRunning,
		},
		{
			name:        "an interrupted run is Aborted, never judged, and says why once",
			s:           runstate.State{Done: true, Abort: &runstate.AbortCause{Kind: runstate.AbortInterrupted, Reason: "interrupted: stopped on request"}},
			res:         v1alpha1.RunResult{Overall: pass, Steps: []v1alpha1.StepResult{succeeded}},
			wantPhase:   v1alpha1.RunAborted,
			wantVerdict: v1alpha1.VerdictNotJudged,
			wantMessage: "interrupted: stopped on request; every active fault was reverted",
		},
		{
			name:        "an abort condition fails the run",
			s:           runstate.State{Done: true, Abort: &runstate.AbortCause{Kind: runstate.AbortByCondition, Reason: "availability fell"}},
			wantPhase:   v1alpha1.RunAborted,
			wantVerdict: v1alpha1.VerdictFail,
			wantMessage: "aborted: availability fell; every active fault was reverted",
		},
		{
			name:        "a run that could not do what the plan says is an Error, not judged",
			s:           runstate.State{Done: true, Errs: []string{"step kill could not inject its fault: boom", "second"}},
			wantPhase:   v1alpha1.RunError,
			wantVerdict: v1alpha1.VerdictNotJudged,
			wantMessage: "step kill could not inject its fault: boom; second",
		},
		{
			name: "a failed revert is an Error that names the steps drill cleanup retries",
			s:    runstate.State{Done: true},
			res: v1alpha1.RunResult{Overall: pass, Steps: []v1alpha1.StepResult{
				{Name: "kill", Fault: &v1alpha1.FaultResult{Error: "revert: node-a: timeout"}},
				{Name: "drain", Fault: &v1alpha1.FaultResult{Error: "revert: x"}},
			}},
			wantPhase:   v1alpha1.RunError,
			wantVerdict: v1alpha1.VerdictNotJudged,
			wantMessage: "could not revert kill, drain; drill cleanup retries it",
		},
		{
			name:        "every check and step passing is a Pass",
			s:           runstate.State{Done: true},
			res:         v1alpha1.RunResult{Baseline: pass, Final: pass, Overall: pass, Steps: []v1alpha1.StepResult{succeeded, {Kind: v1alpha1.StepWait, Phase: v1alpha1.RunAborted}}},
			wantPhase:   v1alpha1.RunSucceeded,
			wantVerdict: v1alpha1.VerdictPass,
		},
		{
			name:        "a failed steady-state check fails the run",
			s:           runstate.State{Done: true},
			res:         v1alpha1.RunResult{Baseline: pass, Final: fail, Overall: pass, Steps: []v1alpha1.StepResult{succeeded}},
			wantPhase:   v1alpha1.RunFailed,
			wantVerdict: v1alpha1.VerdictFail,
		},
		{
			name:        "a wait step that never started fails the run",
			s:           runstate.State{Done: true},
			res:         v1alpha1.RunResult{Overall: pass, Steps: []v1alpha1.StepResult{succeeded, {Kind: v1alpha1.StepWait, Phase: v1alpha1.RunPending}}},
			wantPhase:   v1alpha1.RunFailed,
			wantVerdict: v1alpha1.VerdictFail,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phase, verdict, msg := runOutcome(&tt.s, &tt.res)
			require.Equal(t, tt.wantPhase, phase)
			require.Equal(t, tt.wantVerdict, verdict)
			require.Equal(t, tt.wantMessage, msg)
		})
	}
}

func TestStepPhase(t *testing.T) {
	started := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	failed := &v1alpha1.FaultResult{Verdict: v1alpha1.VerdictFail}
	passed := &v1alpha1.FaultResult{Verdict: v1alpha1.VerdictPass}
	tests := []struct {
		name string
		st   runstate.StepState
		fr   *v1alpha1.FaultResult
		want v1alpha1.RunPhase
	}{
		{name: "a step a resumed run completed succeeded", st: runstate.StepState{Skipped: true}, want: v1alpha1.RunSucceeded},
		{name: "a step not started is Pending", want: v1alpha1.RunPending},
		{name: "a fault that could not be injected or reverted is an Error", st: runstate.StepState{Started: started, Finished: started, Interrupted: true}, fr: &v1alpha1.FaultResult{Error: "inject: boom"}, want: v1alpha1.RunError},
		{name: "a step the run stopped is Aborted", st: runstate.StepState{Started: started, Finished: started, Interrupted: true}, fr: passed, want: v1alpha1.RunAborted},
		{name: "a started step not finished is Running", st: runstate.StepState{Started: started}, fr: failed, want: v1alpha1.RunRunning},
		{name: "a fault that did not pass Failed", st: runstate.StepState{Started: started, Finished: started}, fr: failed, want: v1alpha1.RunFailed},
		{name: "a finished wait succeeded", st: runstate.StepState{Started: started, Finished: started}, want: v1alpha1.RunSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, stepPhase(&runstate.State{}, &tt.st, tt.fr))
		})
	}
}
