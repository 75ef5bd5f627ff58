package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/slo"
)

// plannerState is a run of one baseline wait and one fault, the fault
// already started and in phase.
func plannerState(f v1alpha1.Fault, phase faultPhase) *state {
	spec := &v1alpha1.DrillPlanSpec{
		Load: v1alpha1.Load{Timeout: &metav1.Duration{Duration: 300 * time.Millisecond}},
		Steps: []v1alpha1.Step{
			{Name: "baseline", Wait: &metav1.Duration{Duration: 2 * time.Second}},
			{Name: "fault", Fault: &f, Timeout: &metav1.Duration{Duration: time.Minute}},
		},
	}
	s := newState(spec, slo.Objectives{Recovered: slo.Criteria{For: time.Second}}, t0, nil)
	ok := true
	s.baselineOK = &ok
	s.steps[0].started, s.steps[0].finished = t0, t0.Add(2*time.Second)
	s.group = 1
	s.steps[1].started = t0.Add(2 * time.Second)
	fs := s.faults[1]
	fs.phase = phase
	fs.injectedAt = t0.Add(2 * time.Second)
	fs.injected = []evidence.Target{{Kind: evidence.KindPod, Name: "p"}}
	if phase == faultFailback {
		fs.reverted = t0.Add(12 * time.Second)
	}
	return &s
}

func kinds(acts []act) []actKind {
	out := make([]actKind, len(acts))
	for i, a := range acts {
		out[i] = a.kind
	}
	return out
}

func TestDecide(t *testing.T) {
	po := planOptions{progressInterval: time.Hour, liveMinRequests: 10}
	timed := v1alpha1.Fault{Duration: &metav1.Duration{Duration: 10 * time.Second}, NodeDrain: &v1alpha1.NodeDrain{}}
	untimed := v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}
	podKill := v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}
	tests := []struct {
		name  string
		s     func() *state
		now   time.Duration
		want  []actKind
		check func(t *testing.T, acts []act)
	}{
		{
			name: "the first fault waits for a full recovered window of baseline",
			s: func() *state {
				s := plannerState(untimed, faultPending)
				s.baselineOK, s.group = nil, 0
				s.steps[0] = stepState{name: "baseline"}
				s.steps[1] = stepState{name: "fault", kind: v1alpha1.StepFault}
				return s
			},
			now: 0, want: []actKind{actProgress, actStartStep},
		},
		{
			name: "a timed fault holds until its duration ends",
			s:    func() *state { return plannerState(timed, faultFailover) },
			now:  11 * time.Second, want: []actKind{actProgress},
		},
		{
			name: "a timed fault is reverted when its hold ends",
			s:    func() *state { return plannerState(timed, faultFailover) },
			now:  12 * time.Second, want: []actKind{actProgress, actRevert},
		},
		{
			name: "an untimed fault ends its failover once recovered",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.faults[1].failoverRecovered = true
				return s
			},
			now: 5 * time.Second, want: []actKind{actProgress, actEndFailover},
		},
		{
			name: "an untimed fault that never recovers ends at its step timeout",
			s:    func() *state { return plannerState(untimed, faultFailover) },
			now:  62 * time.Second, want: []actKind{actProgress, actEndFailover},
			check: func(t *testing.T, acts []act) {
				t.Helper()
				require.Equal(t, t0.Add(62*time.Second), acts[1].end, "the observation ends at the deadline, not later")
			},
		},
		{
			name: "a fail-back is observed until it recovers",
			s:    func() *state { return plannerState(untimed, faultFailback) },
			now:  13 * time.Second, want: []actKind{actProgress},
		},
		{
			name: "a done fault finishes its step and the group moves on",
			s:    func() *state { return plannerState(podKill, faultDone) },
			now:  13 * time.Second, want: []actKind{actProgress, actFinishStep},
		},
		{
			name: "an interruption aborts",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.interrupted = errors.New("a signal")
				return s
			},
			now: 5 * time.Second, want: []actKind{actAbort},
		},
		{
			name: "after an abort every active fault is reverted",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.abort = &abortCause{kind: abortInterrupted, reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []actKind{actRevert},
		},
		{
			name: "after an abort a fault without a revert only ends its observation",
			s: func() *state {
				s := plannerState(podKill, faultFailover)
				s.abort = &abortCause{kind: abortInterrupted, reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []actKind{actEndFailover},
		},
		{
			name: "an abort waits for a revert in flight",
			s: func() *state {
				s := plannerState(untimed, faultReverting)
				s.abort = &abortCause{kind: abortInterrupted, reason: "x"}
				return s
			},
			now: 5 * time.Second, want: []actKind{},
		},
		{
			name: "abort.maxDuration aborts",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.spec.Abort.MaxDuration = &metav1.Duration{Duration: 3 * time.Second}
				return s
			},
			now: 4 * time.Second, want: []actKind{actAbort},
			check: func(t *testing.T, acts []act) {
				t.Helper()
				require.Equal(t, abortByCondition, acts[0].cause.kind)
				require.Contains(t, acts[0].cause.reason, "abort.maxDuration (3.00s)")
			},
		},
		{
			name: "availabilityBelow needs enough requests to judge",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.spec.Abort.AvailabilityBelow = "50"
				s.live, s.liveAt = v1alpha1.WindowStats{Requests: 5, Failures: 5}, t0
				return s
			},
			now: 5 * time.Second, want: []actKind{actProgress},
		},
		{
			name: "availabilityBelow aborts",
			s: func() *state {
				s := plannerState(untimed, faultFailover)
				s.spec.Abort.AvailabilityBelow = "50"
				s.live, s.liveAt = v1alpha1.WindowStats{Requests: 50, Failures: 30, Availability: "40"}, t0
				return s
			},
			now: 5 * time.Second, want: []actKind{actAbort},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s()
			before := s.clone()
			acts := decide(s, t0.Add(tt.now), po)
			require.Equal(t, tt.want, append([]actKind{}, kinds(acts)...))
			require.Equal(t, before, s.clone(), "decide never changes the state")
			if tt.check != nil {
				tt.check(t, acts)
			}
		})
	}
}
