package probe

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/slo"
)

const (
	e2eRate     = 50
	e2eInterval = time.Second / e2eRate
)

// TestEndToEndRecoveryIsMeasuredWithinTwoProbeIntervals switches a real
// server down and back up at known instants while the probe runs at 50 req/s,
// then checks that slo.AnalyzeFault measures the true outage within
// max(2 probe intervals, 50 ms). The 20 s outage runs with
// FIREDRILL_LONG_TESTS=1.
func TestEndToEndRecoveryIsMeasuredWithinTwoProbeIntervals(t *testing.T) {
	type outage struct {
		name   string
		length time.Duration
		// begin and end switch the server and return the true instants.
		begin, end func(s *switchServer) time.Time
		long       bool
	}
	down := func(s *switchServer) time.Time { return s.down() }
	up := func(s *switchServer) time.Time { return s.up() }
	to := func(m int32) func(s *switchServer) time.Time {
		return func(s *switchServer) time.Time { return s.switchMode(m) }
	}
	cases := []outage{
		{name: "a 300 ms full outage with the listener closed", length: 300 * time.Millisecond, begin: down, end: up},
		{name: "a 1 s full outage with the listener closed", length: time.Second, begin: down, end: up},
		{name: "a 3 s full outage with the listener closed", length: 3 * time.Second, begin: down, end: up},
		{name: "a 1 s full outage answering 503", length: time.Second, begin: to(mode503), end: to(modeOK)},
		{name: "a 1 s partial outage with every third request failing", length: time.Second, begin: to(modePartial), end: to(modeOK)},
		{name: "a 1 s latency-only degradation to 500 ms", length: time.Second, begin: to(modeSlow), end: to(modeOK)},
		{name: "a 20 s full outage with the listener closed", length: 20 * time.Second, begin: down, end: up, long: true},
	}
	obj := slo.Objectives{
		RTO:       time.Minute,
		Recovered: slo.Criteria{SuccessRate: 99, LatencyP99: 250 * time.Millisecond, For: 2 * time.Second},
	}
	tolerance := max(2*e2eInterval, 50*time.Millisecond)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.long && os.Getenv("FIREDRILL_LONG_TESTS") != "1" {
				t.Skip("set FIREDRILL_LONG_TESTS=1 to run")
			}
			t.Parallel()
			srv := newSwitchServer(t, nil)
			p, err := New(Options{Endpoint: srv.url(), Rate: e2eRate, Timeout: time.Second, Templates: oneRoute(), Pools: testPools(), Seed: 1})
			require.NoError(t, err)
			stop := runProber(t, p)

			time.Sleep(time.Second) // baseline
			injected := tc.begin(srv)
			time.Sleep(tc.length)
			restored := tc.end(srv)
			time.Sleep(obj.Recovered.For + 700*time.Millisecond)
			end := time.Now()
			stop()

			trueOutage := restored.Sub(injected)
			res := slo.AnalyzeFault(slo.FaultInput{Name: tc.name, Start: injected, End: end, Samples: p.Samples()}, obj)
			require.True(t, res.Recovered, "notes: %v", res.Notes)
			measured := res.ServiceRTO.Duration
			t.Logf("%s: true outage %s, measured %s, error %s (impact +%s, serving +%s)", tc.name, trueOutage, measured,
				measured-trueOutage, res.Instants.Impact.Sub(injected), res.Instants.Serving.Sub(injected))
			require.InDelta(t, float64(trueOutage), float64(measured), float64(tolerance),
				"measured %s for a true outage of %s", measured, trueOutage)
			require.Positive(t, res.During.Failures+res.During.Slow)
		})
	}
}
