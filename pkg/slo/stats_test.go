package slo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// ladder returns n successful samples, one per 10 ms, with latencies 1..n ms.
func ladder(n int) []evidence.Sample {
	out := make([]evidence.Sample, n)
	for i := range out {
		out[i] = evidence.Sample{At: t0.Add(time.Duration(i) * 10 * time.Millisecond), Latency: time.Duration(i+1) * time.Millisecond, Code: 200}
	}
	return out
}

func TestStatsPercentilesAreExactNearestRank(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name               string
		samples            []evidence.Sample
		p50, p90, p99, max time.Duration
	}{
		{name: "an empty window has zero percentiles", samples: nil},
		{name: "one sample is every percentile", samples: ladder(1), p50: ms, p90: ms, p99: ms, max: ms},
		{name: "a hundred samples give the textbook ranks", samples: ladder(100), p50: 50 * ms, p90: 90 * ms, p99: 99 * ms, max: 100 * ms},
		{name: "ranks round up", samples: ladder(10), p50: 5 * ms, p90: 9 * ms, p99: 10 * ms, max: 10 * ms},
		{name: "a thousand samples keep p99 off the max", samples: ladder(1000), p50: 500 * ms, p90: 900 * ms, p99: 990 * ms, max: 1000 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Reverse the input: Stats must not rely on order.
			in := append([]evidence.Sample(nil), tt.samples...)
			for i, j := 0, len(in)-1; i < j; i, j = i+1, j-1 {
				in[i], in[j] = in[j], in[i]
			}
			st := Stats(in, t0, t0.Add(time.Hour), 0)
			require.Equal(t, int64(len(in)), st.Requests)
			require.Equal(t, []time.Duration{tt.p50, tt.p90, tt.p99, tt.max}, []time.Duration{st.P50.Duration, st.P90.Duration, st.P99.Duration, st.Max.Duration})
		})
	}
}

func TestStatsCountsFailuresTimeoutsAndSlowRequestsInAHalfOpenWindow(t *testing.T) {
	samples := []evidence.Sample{
		{At: t0, Latency: time.Millisecond, Code: 200},                                            // in, first instant
		{At: t0.Add(time.Second), Latency: 300 * time.Millisecond, Code: 200},                     // slow
		{At: t0.Add(2 * time.Second), Latency: time.Second, Err: evidence.ClassTimeout},           // timeout
		{At: t0.Add(3 * time.Second), Latency: 2 * time.Millisecond, Code: 503},                   // failure
		{At: t0.Add(4 * time.Second), Latency: 2 * time.Millisecond, Code: 301},                   // redirect counts as success
		{At: t0.Add(5 * time.Second), Latency: 2 * time.Millisecond, Code: 200},                   // excluded: To is exclusive
		{At: t0.Add(-time.Nanosecond), Latency: 2 * time.Millisecond, Err: evidence.ClassRefused}, // excluded: before From
	}
	st := Stats(samples, t0, t0.Add(5*time.Second), 250*time.Millisecond)
	require.Equal(t, int64(5), st.Requests)
	require.Equal(t, int64(2), st.Failures)
	require.Equal(t, int64(1), st.Timeouts)
	require.Equal(t, int64(2), st.Slow, "the slow success and the timeout")
	require.Equal(t, v1alpha1.Percent("60"), st.Availability)
	require.Equal(t, time.Second, st.Max.Duration)
}

func TestSeriesBucketsEveryStep(t *testing.T) {
	samples := append(ladder(100), evidence.Sample{At: t0.Add(2500 * time.Millisecond), Latency: time.Second, Err: evidence.ClassTimeout})
	pts := Series(samples, t0, t0.Add(3*time.Second), time.Second)
	require.Len(t, pts, 3)
	require.Equal(t, 100, pts[0].Requests, "100 samples 10 ms apart fill the first second")
	require.Equal(t, 99*time.Millisecond, pts[0].P99.Duration)
	require.InDelta(t, 100.0, pts[0].SuccessRate(), 1e-9)
	require.Equal(t, Point{At: t0.Add(time.Second)}, pts[1], "an empty step is kept")
	require.Equal(t, 1, pts[2].Failures)
	require.Zero(t, pts[2].SuccessRate())
	require.Nil(t, Series(samples, t0, t0, time.Second), "an empty range has no points")
	require.Nil(t, Series(samples, t0, t0.Add(time.Second), 0), "a zero step has no points")
}

func TestMeetsRateToleratesDecimalTargets(t *testing.T) {
	tests := []struct {
		name      string
		successes int
		n         int
		pct       float64
		want      bool
	}{
		{name: "999 of 1000 meets 99.9 percent", successes: 999, n: 1000, pct: 99.9, want: true},
		{name: "998 of 1000 misses 99.9 percent", successes: 998, n: 1000, pct: 99.9},
		{name: "99 of 100 meets 99 percent", successes: 99, n: 100, pct: 99, want: true},
		{name: "an unset target always holds", successes: 0, n: 10, pct: 0, want: true},
		{name: "no requests never meet a target", successes: 0, n: 0, pct: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, meetsRate(tt.successes, tt.n, tt.pct))
		})
	}
}

func TestDrillJudgesTheDrillWideObjectives(t *testing.T) {
	samples := generate(rate, 1, []phase{healthy(50 * time.Second), {Until: dur(51 * time.Second), FailRate: 1, Code: 503}})
	tests := []struct {
		name     string
		obj      Objectives
		wantPass []bool
	}{
		{name: "no objectives give no verdicts", obj: Objectives{}, wantPass: []bool{}},
		{name: "a 1 s outage in 51 s meets 98 percent", obj: Objectives{Availability: 98, LatencyP99: 250 * time.Millisecond}, wantPass: []bool{true, true}},
		{name: "a 1 s outage in 51 s misses 99 percent", obj: Objectives{Availability: 99}, wantPass: []bool{false}},
		{name: "a 5 ms p99 objective fails on 5 to 10 ms latencies", obj: Objectives{LatencyP99: 5 * time.Millisecond}, wantPass: []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Drill(samples, t0, t0.Add(51*time.Second), tt.obj)
			require.Equal(t, int64(2550), c.Stats.Requests)
			got := []bool{}
			for _, v := range c.Verdicts {
				got = append(got, v.Verdict == v1alpha1.VerdictPass)
				require.NotEmpty(t, v.Reason)
			}
			require.Equal(t, tt.wantPass, got, "%+v", c.Verdicts)
		})
	}
}

func TestFormattingNeverRoundsAFailureIntoAPass(t *testing.T) {
	require.Equal(t, "99.999%", fmtPct(99.9996))
	require.Equal(t, "97.3%", fmtPct(97.3))
	require.Equal(t, "100%", fmtPct(100))
	require.Equal(t, "1.235s", fmtDur(1234567890*time.Nanosecond))
}

func TestMeasureRPO(t *testing.T) {
	newest := &evidence.ModelObservation{Version: "v3", CreatedAt: t0.Add(-time.Hour)}
	obs := func(at time.Duration, replica, version string, age time.Duration, fallback bool) evidence.ModelObservation {
		return evidence.ModelObservation{At: t0.Add(at), Replica: replica, Version: version, CreatedAt: t0.Add(-age), Fallback: fallback}
	}
	zero := time.Duration(0)
	tests := []struct {
		name      string
		models    []evidence.ModelObservation
		newest    *evidence.ModelObservation
		want      *time.Duration
		fallback  bool
		wantPass  bool
		recovered bool
	}{
		{
			name:   "replicas on the newest model have no staleness",
			models: []evidence.ModelObservation{obs(20*time.Second, "r0", "v3", time.Hour, false)}, newest: newest,
			want: &zero, wantPass: true, recovered: true,
		},
		{
			name:   "a model newer than the newest published before the fault is not stale",
			models: []evidence.ModelObservation{obs(20*time.Second, "r0", "v4", time.Minute, false)}, newest: newest,
			want: &zero, wantPass: true, recovered: true,
		},
		{
			name: "the oldest model served after recovery sets the RPO",
			models: []evidence.ModelObservation{
				obs(5*time.Second, "r0", "v1", 48*time.Hour, false), // before recovery: ignored
				obs(20*time.Second, "r0", "v3", time.Hour, false),
				obs(21*time.Second, "r1", "v2", 3*time.Hour, false),
			},
			newest: newest, want: durPtr(2 * time.Hour), recovered: true,
		},
		{
			name:   "a fallback model fails whatever the target",
			models: []evidence.ModelObservation{obs(20*time.Second, "r0", "fallback", 0, true)},
			newest: newest, fallback: true, recovered: true,
		},
		{
			name:   "no observation after recovery is not measured and fails",
			models: []evidence.ModelObservation{obs(5*time.Second, "r0", "v3", time.Hour, false)}, newest: newest,
			recovered: true,
		},
		{
			name:   "a fault that never recovered has no RPO",
			models: []evidence.ModelObservation{obs(20*time.Second, "r0", "v3", time.Hour, false)}, newest: newest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *time.Time
			if tt.recovered {
				rec = timePtr(t0.Add(10 * time.Second))
			}
			in := FaultInput{Models: tt.models, NewestPublishedBefore: tt.newest}
			m := measureRPO(in, rec, t0.Add(time.Minute))
			require.Equal(t, tt.want, m.rpo)
			require.Equal(t, tt.fallback, m.fallback)
			v := rpoVerdict(m, time.Hour)
			require.Equal(t, tt.wantPass, v.Verdict == v1alpha1.VerdictPass, "%+v", v)
			require.NotEmpty(t, v.Reason)
		})
	}
}

func TestCapacityTimelineFoldsWorkloads(t *testing.T) {
	s := time.Second
	pts := []evidence.CapacityPoint{
		{At: t0.Add(1 * s), Workload: "a", Desired: 2, Ready: 1},
		{At: t0.Add(1 * s), Workload: "b", Desired: 1, Ready: 1},
		{At: t0.Add(2 * s), Workload: "a", Desired: 2, Ready: 2},
		{At: t0.Add(2 * s), Workload: "b", Desired: 1, Ready: 0}, // same instant: a back, b short
		{At: t0.Add(3 * s), Workload: "b", Desired: 1, Ready: 1},
		{At: t0.Add(9 * s), Workload: "b", Desired: 1, Ready: 0}, // after end: ignored
	}
	tl := newCapacityTimeline(pts, t0.Add(5*s))
	require.True(t, tl.readyAt(t0))
	require.False(t, tl.readyAt(t0.Add(1*s)))
	require.False(t, tl.readyAt(t0.Add(2*s)), "b went short as a came back")
	require.True(t, tl.readyAt(t0.Add(3*s)))
	loss, ok := tl.firstLoss(t0, t0.Add(5*s))
	require.True(t, ok)
	require.Equal(t, t0.Add(1*s), loss)
	ready, ok := tl.ready(t0)
	require.True(t, ok)
	require.Equal(t, t0.Add(3*s), ready)
	require.True(t, tl.readyOver(t0.Add(3*s), t0.Add(5*s)))
	require.False(t, tl.readyOver(t0, t0.Add(5*s)))
}
