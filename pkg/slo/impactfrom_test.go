package slo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// An exec fault's effect time is unknown: its inject command starts at
// 10 s, the outage it causes begins at 10.05 s while the command still
// runs, and the command exits (the injected instant) at 10.25 s. The outage
// lasts 1 s from its real start.
func TestAnalyzeFaultCountsAnImpactBeforeInjectedFromImpactFrom(t *testing.T) {
	refused := phase{FailRate: 1, Err: evidence.ClassRefused, FailLatency: dur(300 * time.Microsecond)}
	const (
		actionStart = 10 * time.Second
		outageStart = actionStart + 50*time.Millisecond
		injected    = actionStart + 250*time.Millisecond
		outage      = time.Second
	)
	refused.Until = dur(outageStart + outage)
	samples := generate(rate, 5, []phase{healthy(outageStart), refused, healthy(outageStart + outage + 30*time.Second)})
	obj := recoveredCriteria()

	tests := []struct {
		name       string
		impactFrom time.Duration
		wantStart  time.Duration
		wantRTO    time.Duration
	}{
		{
			name:       "with impactFrom at the action's start the clock starts at the impact",
			impactFrom: actionStart, wantStart: outageStart, wantRTO: outage,
		},
		{
			name:       "without it (today's behaviour) the outage before injected is missed and the RTO is short",
			impactFrom: 0, wantStart: injected, wantRTO: outage - (injected - outageStart),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := FaultInput{Name: "exec", Start: t0.Add(injected), End: t0.Add(outageStart + outage + 30*time.Second), Samples: samples}
			if tt.impactFrom > 0 {
				in.ImpactFrom = t0.Add(tt.impactFrom)
			}
			m := measure(in, obj)
			require.InDelta(t, float64(tt.wantStart), float64(m.start.Sub(t0)), float64(interval), "clock start")
			require.NotNil(t, m.serviceRTO)
			require.InDelta(t, float64(tt.wantRTO), float64(*m.serviceRTO), float64(25*time.Millisecond), "service RTO %s", *m.serviceRTO)
			if tt.impactFrom > 0 {
				require.Zero(t, m.before.failures, "no failure falls in the before window")
			}
		})
	}
}

func TestAnalyzeFaultJudgesAFailbackAgainstFailbackRTO(t *testing.T) {
	in := outageInput(3, 10*time.Second, 3*time.Second, outageKinds[0].bad)
	in.Failback = true
	obj := recoveredCriteria()
	obj.RTO, obj.FailbackRTO = time.Hour, time.Second
	rec := AnalyzeFault(in, obj)
	require.Len(t, rec.Verdicts, 1)
	require.Equal(t, ObjectiveFailbackRTO, rec.Verdicts[0].Objective)
	require.Equal(t, v1alpha1.VerdictFail, rec.Verdict)
	require.Contains(t, rec.Verdicts[0].Reason, "over the 1s objective")
}
