package trend_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/trend"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// rec is a recovery of d; a negative d did not recover.
func rec(d time.Duration) *index.Recovery {
	r := &index.Recovery{Objective: &index.Duration{Duration: 30 * time.Second}}
	if d >= 0 {
		r.Recovered = true
		r.RecoveryTime = &index.Duration{Duration: d}
	}
	return r
}

// runs builds one run per failover time of a single pod-kill step.
func runs(times ...time.Duration) []index.Entry {
	var out []index.Entry
	for i, d := range times {
		out = append(out, index.Entry{
			Plan: "p", RunID: "p-" + string(rune('a'+i)), StartTime: t0.Add(time.Duration(i) * time.Hour),
			Faults: []index.Fault{{Name: "kill", Type: "podKill", Failover: rec(d)}},
		})
	}
	return out
}

const never = -1

func TestAnalyzeFlagsTheLatestRun(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		times      []time.Duration
		regression bool
		judged     bool
		median     time.Duration
	}{
		{name: "a run within 20% of the median is not flagged", times: []time.Duration{s, s, s, s, s, 1190 * time.Millisecond}, judged: true, median: s},
		{name: "a run more than 20% above the median is flagged", times: []time.Duration{s, s, s, s, s, 1250 * time.Millisecond}, regression: true, judged: true, median: s},
		{name: "a 20% rise below the 100ms floor is jitter", times: []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 190 * time.Millisecond}, judged: true, median: 100 * time.Millisecond},
		{name: "only the previous 5 runs count", times: []time.Duration{9 * s, 9 * s, 9 * s, s, s, s, s, s, 1500 * time.Millisecond}, regression: true, judged: true, median: s},
		{name: "an even window takes the middle of the two middle values", times: []time.Duration{s, 2 * s, 3 * s, 4 * s, 3 * s}, judged: true, median: 2500 * time.Millisecond},
		{name: "fewer than 3 previous runs are not judged", times: []time.Duration{s, s, 9 * s}},
		{name: "a run that did not recover regresses from a median that did", times: []time.Duration{s, s, s, never}, regression: true, judged: true, median: s},
		{name: "a median that did not recover flags nothing", times: []time.Duration{never, never, s, 9 * s}, judged: true},
		{name: "one run that did not recover among five does not hide the median", times: []time.Duration{s, never, s, s, s, 2 * s}, regression: true, judged: true, median: s},
		{name: "a faster run is never a regression", times: []time.Duration{5 * s, 5 * s, 5 * s, s}, judged: true, median: 5 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runs(tt.times...)
			last := rs[len(rs)-1].RunID
			tr := trend.Analyze("p", rs, last, trend.DefaultRule())
			require.Len(t, tr.Series, 1)
			pts := tr.Series[0].Points
			require.Len(t, pts, len(tt.times))
			p := pts[len(pts)-1]
			require.True(t, p.Current)
			require.Equal(t, tt.judged, p.Judged, p.Why(tr.Rule))
			require.Equal(t, tt.regression, p.Regression, p.Why(tr.Rule))
			if tt.median > 0 {
				require.Equal(t, tt.median, p.Median.Duration)
			}
			require.Equal(t, tt.regression, len(tr.Regressions()) == 1)
		})
	}
}

func TestAnalyzeKeepsFailoverAndFailbackApartAndOrdersByTheNewestRun(t *testing.T) {
	rs := runs(time.Second, time.Second)
	rs[0].Faults = append(rs[0].Faults, index.Fault{Name: "old-step", Type: "exec", Failover: rec(time.Second)})
	rs[1].Faults = append([]index.Fault{{Name: "cutover", Type: "regionCutover", Failover: rec(0), Failback: rec(2 * time.Second)}}, rs[1].Faults...)
	tr := trend.Analyze("p", rs, "", trend.DefaultRule())
	var names []string
	for _, s := range tr.Series {
		names = append(names, s.Name())
	}
	require.Equal(t, []string{"cutover", "cutover (fail-back)", "kill", "old-step"}, names)
	require.Len(t, tr.Series[2].Points, 2, "the kill step was measured in both runs")
	require.Len(t, tr.Series[3].Points, 1)
	require.Empty(t, tr.Regressions(), "no current run, nothing to report")
	for _, r := range tr.Runs {
		require.False(t, r.Current)
	}
}

func TestPointWhySaysWhy(t *testing.T) {
	rule := trend.DefaultRule()
	rs := runs(time.Second, time.Second, time.Second, 1500*time.Millisecond)
	tr := trend.Analyze("p", rs, rs[3].RunID, rule)
	p := tr.Series[0].Points[3]
	require.Equal(t, "regression: +500ms (+50%) against the median 1.00s of the 3 previous runs", p.Why(rule))
	require.InDelta(t, 0.5, p.Change(), 1e-9)
	require.Equal(t, "not judged: 0 previous runs, 3 needed", tr.Series[0].Points[0].Why(rule))
	require.True(t, math.IsNaN(tr.Series[0].Points[0].Change()))
}

func TestRuleStatesItself(t *testing.T) {
	require.Equal(t, "A recovery is a regression when its recovery time is more than 20% and more than 100ms above the median "+
		"recovery time of the same fault (same step, same failover or fail-back) in the plan's previous 5 runs that measured it "+
		"(at least 3 are needed), or when it did not recover and that median did.", trend.DefaultRule().String())
}
