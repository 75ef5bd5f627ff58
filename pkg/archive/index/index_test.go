package index_test

import (
	"encoding/json"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func entry(plan, run string, start time.Duration) index.Entry {
	return index.Entry{Plan: plan, RunID: run, StartTime: t0.Add(start), Phase: "Succeeded", Path: plan + "/" + run}
}

func TestFromReportKeepsWhatTrendsAndDiffsNeed(t *testing.T) {
	r := archivetest.Quickstart(t)
	e := index.FromReport(r)
	idx := index.New()
	idx.Upsert(e)
	data, err := idx.Encode()
	require.NoError(t, err)
	golden.Assert(t, "testdata/quickstart-entry.json", data)

	require.Equal(t, r.RunID, e.RunID)
	require.Len(t, e.Faults, len(r.Faults()))
	for i, s := range r.Faults() {
		f := e.Faults[i]
		require.Equal(t, s.Name, f.Name)
		require.Equal(t, s.Fault.Failover.RecoveryTime.Duration, f.Failover.RecoveryTime.Duration)
		require.Equal(t, s.Fault.Failover.Window.P99.Duration, f.Failover.P99.Duration)
		require.Equal(t, &index.Duration{Duration: 30 * time.Second}, f.Failover.Objective, "the rto the recovery was judged against")
		require.Equal(t, s.Fault.Failback != nil, f.Failback != nil)
	}
}

func TestEncodeDecodeRoundTrips(t *testing.T) {
	idx := archivetest.QuickstartIndex(t)
	idx.AddProblem(index.Problem{Path: "quickstart/broken", Reason: "partial report: SHA256SUMS is missing"})
	data, err := idx.Encode()
	require.NoError(t, err)
	back, err := index.Decode(data)
	require.NoError(t, err)
	require.Equal(t, idx, back)
}

func TestDecodeRunsLeavesTheFaultsOut(t *testing.T) {
	idx := archivetest.QuickstartIndex(t)
	idx.AddProblem(index.Problem{Path: "quickstart/broken", Reason: "partial report"})
	data, err := idx.Encode()
	require.NoError(t, err)
	runs, err := index.DecodeRuns(data)
	require.NoError(t, err)
	require.Len(t, runs.Runs, len(idx.Runs))
	require.Equal(t, idx.Problems, runs.Problems)
	for i := range idx.Runs {
		want := idx.Runs[i]
		want.Faults = nil
		require.Equal(t, want, runs.Runs[i])
	}
	_, err = index.DecodeRuns([]byte(`{"schema":"other","runs":[]}`))
	require.ErrorContains(t, err, `archive index schema "other"`)
}

func TestDecodeRefusesOtherSchemas(t *testing.T) {
	_, err := index.Decode([]byte(`{"schema":"firedrill.dev/archive-index/v0","runs":[]}`))
	require.ErrorContains(t, err, `archive index schema "firedrill.dev/archive-index/v0" is not "firedrill.dev/archive-index/v1"`)
	_, err = index.Decode([]byte(`{"schema":`))
	require.ErrorContains(t, err, "decoding the archive index")
}

func TestUpsertKeepsRunsInStartOrderAndReplacesByKey(t *testing.T) {
	idx := index.New()
	idx.Upsert(entry("b", "b-2", 2*time.Hour))
	idx.Upsert(entry("a", "a-1", time.Hour))
	idx.Upsert(entry("a", "a-3", 3*time.Hour))
	idx.AddProblem(index.Problem{Path: "a/a-2", Reason: "corrupt"})
	idx.Upsert(entry("a", "a-2", 2*time.Hour))
	e := entry("b", "b-2", 2*time.Hour)
	e.Verdict = "Fail"
	idx.Upsert(e)
	var keys []string
	for _, e := range idx.Runs {
		keys = append(keys, e.Key())
	}
	require.Equal(t, []string{"a/a-1", "a/a-2", "b/b-2", "a/a-3"}, keys)
	require.Equal(t, "Fail", string(idx.Runs[2].Verdict))
	require.Empty(t, idx.Problems, "a run archived again clears its problem")
	idx.Remove("a/a-1", "b/b-2", "nothing/here")
	require.Len(t, idx.Runs, 2)
}

func TestSelect(t *testing.T) {
	idx := index.New()
	for i, k := range []string{"a", "b", "a", "a", "b", "a"} {
		idx.Upsert(entry(k, k+"-"+string(rune('0'+i)), time.Duration(i)*time.Hour))
	}
	tests := []struct {
		name string
		q    index.Query
		want []string
	}{
		{name: "the zero query selects every run, oldest first", want: []string{"a-0", "b-1", "a-2", "a-3", "b-4", "a-5"}},
		{name: "a plan", q: index.Query{Plan: "b"}, want: []string{"b-1", "b-4"}},
		{name: "the newest runs of a plan", q: index.Query{Plan: "a", Last: 2}, want: []string{"a-3", "a-5"}},
		{name: "runs that started strictly before an instant", q: index.Query{Plan: "a", Before: t0.Add(3 * time.Hour)}, want: []string{"a-0", "a-2"}},
		{name: "the newest runs before an instant", q: index.Query{Before: t0.Add(5 * time.Hour), Last: 2}, want: []string{"a-3", "b-4"}},
		{name: "an unknown plan selects nothing, not nil", q: index.Query{Plan: "z"}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{}
			for _, e := range idx.Select(tt.q) {
				got = append(got, e.RunID)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDurationReadsAndWritesGoDurationStrings(t *testing.T) {
	for _, d := range []time.Duration{0, 1397266083, 30 * time.Second, 90 * time.Minute} {
		data, err := json.Marshal(index.Dur(d))
		require.NoError(t, err)
		require.Equal(t, `"`+d.String()+`"`, string(data))
		var back index.Duration
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, d, back.Duration)
		var v2 index.Duration
		require.NoError(t, jsonv2.Unmarshal(data, &v2))
		require.Equal(t, d, v2.Duration)
	}
	var d index.Duration
	require.Error(t, json.Unmarshal([]byte("12"), &d))
	require.ErrorContains(t, json.Unmarshal([]byte(`"soon"`), &d), "parsing duration")
}

func TestFind(t *testing.T) {
	idx := index.New()
	idx.Upsert(entry("a", "run-1", 0))
	idx.Upsert(entry("b", "run-1", time.Hour))
	idx.Upsert(entry("a", "run-2", 2*time.Hour))
	e, err := idx.Find("run-2")
	require.NoError(t, err)
	require.Equal(t, "a/run-2", e.Key())
	e, err = idx.Find("b/run-1")
	require.NoError(t, err)
	require.Equal(t, "b", e.Plan)
	_, err = idx.Find("run-1")
	require.EqualError(t, err, "run id run-1 is ambiguous: name one of a/run-1, b/run-1")
	_, err = idx.Find("nope")
	require.ErrorIs(t, err, index.ErrNotFound)
	require.Equal(t, []string{"a", "b"}, idx.Plans())
}
