package planner

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/slo"
)

// t0 anchors every test's time.
var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// plannerState is a run of one baseline wait and one fault, the fault
// already started and in phase.
func plannerState(f v1alpha1.Fault, phase runstate.FaultPhase) *runstate.State {
	spec := &v1alpha1.DrillPlanSpec{
		Load: v1alpha1.Load{Timeout: &metav1.Duration{Duration: 300 * time.Millisecond}},
		Steps: []v1alpha1.Step{
			{Name: "baseline", Wait: &metav1.Duration{Duration: 2 * time.Second}},
			{Name: "fault", Fault: &f, Timeout: &metav1.Duration{Duration: time.Minute}},
		},
	}
	s := runstate.New(spec, slo.Objectives{Recovered: slo.Criteria{For: time.Second}}, t0, nil)
	ok := true
	s.BaselineOK = &ok
	s.Steps[0].Started, s.Steps[0].Finished = t0, t0.Add(2*time.Second)
	s.Group = 1
	s.Steps[1].Started = t0.Add(2 * time.Second)
	fs := s.Faults[1]
	fs.Phase = phase
	fs.InjectedAt = t0.Add(2 * time.Second)
	fs.Injected = []evidence.Target{{Kind: evidence.KindPod, Name: "p"}}
	if phase == runstate.FaultFailback {
		fs.Reverted = t0.Add(12 * time.Second)
	}
	return &s
}

func kinds(acts []Act) []ActKind {
	out := make([]ActKind, len(acts))
	for i, a := range acts {
		out[i] = a.Kind
	}
	return out
}

func TestDecide(t *testing.T) {
	po := Options{ProgressInterval: time.Hour, LiveMinRequests: 10}
	timed := v1alpha1.Fault{Duration: &metav1.Duration{Duration: 10 * time.Second}, NodeDrain: &v1alpha1.NodeDrain{}}
	untimed := v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}
	podKill := v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}
	tests := []struct {
		name  string
		s     func() *runstate.State
		now   time.Duration
		want  []ActKind
		check func(t *testing.T, acts []Act)
	}{
		{
			name: "the first fault waits for a full recovered window of baseline",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultPending)
				s.BaselineOK, s.Group = nil, 0
				s.Steps[0] = runstate.StepState{Name: "baseline"}
				s.Steps[1] = runstate.StepState{Name: "fault", Kind: v1alpha1.StepFault}
				return s
			},
			now: 0, want: []ActKind{ActProgress, ActStartStep},
		},
		{
			name: "a timed fault holds until its duration ends",
			s:    func() *runstate.State { return plannerState(timed, runstate.FaultFailover) },
			now:  11 * time.Second, want: []ActKind{ActProgress},
		},
		{
			name: "a timed fault is reverted when its hold ends",
			s:    func() *runstate.State { return plannerState(timed, runstate.FaultFailover) },
			now:  12 * time.Second, want: []ActKind{ActProgress, ActRevert},
		},
		{
			name: "an untimed fault ends its failover once recovered",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Faults[1].FailoverRecovered = true
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActProgress, ActEndFailover},
		},
		{
			name: "an untimed fault that never recovers ends at its step timeout",
			s:    func() *runstate.State { return plannerState(untimed, runstate.FaultFailover) },
			now:  62 * time.Second, want: []ActKind{ActProgress, ActEndFailover},
			check: func(t *testing.T, acts []Act) {
				t.Helper()
				require.Equal(t, t0.Add(62*time.Second), acts[1].End, "the observation ends at the deadline, not later")
			},
		},
		{
			name: "a fail-back is observed until it recovers",
			s:    func() *runstate.State { return plannerState(untimed, runstate.FaultFailback) },
			now:  13 * time.Second, want: []ActKind{ActProgress},
		},
		{
			name: "a done fault finishes its step and the group moves on",
			s:    func() *runstate.State { return plannerState(podKill, runstate.FaultDone) },
			now:  13 * time.Second, want: []ActKind{ActProgress, ActFinishStep},
		},
		{
			name: "an interruption aborts",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Interrupted = errors.New("a signal")
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActAbort},
		},
		{
			name: "after an abort every active fault is reverted",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Abort = &runstate.AbortCause{Kind: runstate.AbortInterrupted, Reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActRevert},
		},
		{
			name: "after an abort a fault without a revert only ends its observation",
			s: func() *runstate.State {
				s := plannerState(podKill, runstate.FaultFailover)
				s.Abort = &runstate.AbortCause{Kind: runstate.AbortInterrupted, Reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActEndFailover},
		},
		{
			name: "an abort waits for a revert in flight",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultReverting)
				s.Abort = &runstate.AbortCause{Kind: runstate.AbortInterrupted, Reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []ActKind{},
		},
		{
			name: "abort.maxDuration aborts",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Spec.Abort.MaxDuration = &metav1.Duration{Duration: 3 * time.Second}
				return s
			},
			now: 4 * time.Second, want: []ActKind{ActAbort},
			check: func(t *testing.T, acts []Act) {
				t.Helper()
				require.Equal(t, runstate.AbortByCondition, acts[0].Cause.Kind)
				require.Contains(t, acts[0].Cause.Reason, "abort.maxDuration (3.00s)")
			},
		},
		{
			name: "availabilityBelow needs enough requests to judge",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Spec.Abort.AvailabilityBelow = "50"
				s.Live, s.LiveAt = v1alpha1.WindowStats{Requests: 5, Failures: 5}, t0
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActProgress},
		},
		{
			name: "availabilityBelow aborts",
			s: func() *runstate.State {
				s := plannerState(untimed, runstate.FaultFailover)
				s.Spec.Abort.AvailabilityBelow = "50"
				s.Live, s.LiveAt = v1alpha1.WindowStats{Requests: 50, Failures: 30, Availability: "40"}, t0
				return s
			},
			now: 5 * time.Second, want: []ActKind{ActAbort},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s()
			before := s.Clone()
			acts := Decide(s, t0.Add(tt.now), po)
			require.Equal(t, tt.want, append([]ActKind{}, kinds(acts)...))
			require.Equal(t, before, s.Clone(), "decide never changes the state")
			if tt.check != nil {
				tt.check(t, acts)
			}
		})
	}
}
