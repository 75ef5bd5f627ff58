package prune_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/prune"
	"github.com/firedrill/firedrill/pkg/journal"
)

var now = time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC)

func days(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

func TestPolicyValidate(t *testing.T) {
	require.ErrorContains(t, prune.Policy{}.Validate(), "give --keep N, --max-age D or both")
	require.ErrorContains(t, prune.Policy{Keep: -1}.Validate(), "--keep must not be negative")
	require.ErrorContains(t, prune.Policy{MaxAge: -time.Hour}.Validate(), "--max-age must not be negative")
	require.NoError(t, prune.Policy{Keep: 3}.Validate())
	require.Equal(t, "remove what is beyond the 3 newest of its group and older than 720h0m0s", prune.Policy{Keep: 3, MaxAge: 720 * time.Hour}.String())
}

func TestDecide(t *testing.T) {
	// Plan a has runs 1 to 40 days old, plan b two runs; one run of a is
	// pinned.
	items := []prune.Item{
		{Kind: prune.KindRun, Group: "a", Name: "a-1", Time: days(1)},
		{Kind: prune.KindRun, Group: "a", Name: "a-5", Time: days(5)},
		{Kind: prune.KindRun, Group: "a", Name: "a-10", Time: days(10)},
		{Kind: prune.KindRun, Group: "a", Name: "a-20", Time: days(20), Pinned: "on hold"},
		{Kind: prune.KindRun, Group: "a", Name: "a-40", Time: days(40)},
		{Kind: prune.KindRun, Group: "b", Name: "b-30", Time: days(30)},
		{Kind: prune.KindRun, Group: "b", Name: "b-60", Time: days(60)},
	}
	tests := []struct {
		name   string
		policy prune.Policy
		want   []string
	}{
		{name: "keep removes what is beyond the newest N of each plan", policy: prune.Policy{Keep: 2}, want: []string{"a-10", "a-40"}},
		{name: "max-age removes what is older", policy: prune.Policy{MaxAge: 15 * 24 * time.Hour}, want: []string{"a-40", "b-30", "b-60"}},
		{name: "both: only what both select", policy: prune.Policy{Keep: 2, MaxAge: 15 * 24 * time.Hour}, want: []string{"a-40"}},
		{name: "keep 1 keeps each plan's newest, however old", policy: prune.Policy{Keep: 1, MaxAge: time.Hour}, want: []string{"a-5", "a-10", "a-40", "b-60"}},
		{name: "a pinned item is never removed and counts towards keep", policy: prune.Policy{Keep: 3}, want: []string{"a-40"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range prune.Decide(items, tt.policy, now) {
				if d.Remove {
					got = append(got, d.Name)
				}
			}
			require.Equal(t, tt.want, got)
		})
	}
	ds := prune.Decide(items, prune.Policy{Keep: 2, MaxAge: 15 * 24 * time.Hour}, now)
	require.Equal(t, "kept: one of the 2 newest", ds[0].Reason)
	require.Equal(t, "kept: younger than 360h0m0s", ds[2].Reason)
	require.Equal(t, "kept: on hold", ds[3].Reason)
	require.Equal(t, "removed: number 5 by age, beyond the 2 newest, and 960h0m0s old, over 360h0m0s", ds[4].Reason)
}

func writeJournal(t *testing.T, dir, plan, run string, started time.Time, finish string, activeFault bool) {
	t.Helper()
	clk := testingclock.NewFakePassiveClock(started)
	j, err := journal.Create(dir, journal.Record{RunID: run, Plan: plan, Started: started, Owner: journal.Owner{PID: 1}}, clk)
	require.NoError(t, err)
	require.NoError(t, j.Begin("kill", v1alpha1.Fault{}, nil))
	if !activeFault {
		require.NoError(t, j.Set("kill", journal.Reverted, ""))
	}
	if finish != "" {
		require.NoError(t, j.Finish(finish))
	}
}

func TestJournalsPinWhatCleanupAndResumeNeed(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, "a", "a-old", days(40), "Succeeded", false)
	writeJournal(t, dir, "a", "a-crashed", days(30), "", true)
	writeJournal(t, dir, "a", "a-leftover", days(25), "Error", true)
	writeJournal(t, dir, "a", "a-new", days(1), "Aborted", false)
	items, err := prune.Journals(dir)
	require.NoError(t, err)
	got := map[string]string{}
	for _, it := range items {
		require.Equal(t, prune.KindJournal, it.Kind)
		require.Equal(t, filepath.Join(dir, it.Name+".json"), it.Path)
		got[it.Name] = it.Pinned
	}
	require.Equal(t, map[string]string{
		"a-old":      "",
		"a-crashed":  "the run has not finished: it is live, or drill cleanup needs its journal",
		"a-leftover": "a fault it injected may still be active: drill cleanup needs its journal",
		"a-new":      "the newest run of the plan: drill run --resume reads it",
	}, got)

	ds := prune.Decide(items, prune.Policy{MaxAge: 24 * time.Hour}, now)
	done, err := prune.Apply(context.Background(), ds, nil, nil)
	require.NoError(t, err)
	require.Len(t, done, 1)
	require.Equal(t, "a-old", done[0].Name)
	left, err := journal.Load(dir)
	require.NoError(t, err)
	require.Len(t, left, 3)
}

func TestSandboxLogsOfFinishedSandboxes(t *testing.T) {
	state := t.TempDir()
	mk := func(id string, age time.Duration, extra bool) string {
		dir := filepath.Join(state, "sandbox", id)
		logs := filepath.Join(dir, "logs")
		require.NoError(t, os.MkdirAll(logs, 0o755))
		f := filepath.Join(logs, "replica.log")
		require.NoError(t, os.WriteFile(f, []byte("log\n"), 0o644))
		ts := now.Add(-age)
		require.NoError(t, os.Chtimes(f, ts, ts))
		require.NoError(t, os.Chtimes(logs, ts, ts))
		if extra {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sandbox.json"), []byte("{}"), 0o644))
		}
		return dir
	}
	old := mk("sb-old", 72*time.Hour, false)
	running := mk("sb-running", 72*time.Hour, true)
	mk("sb-fresh", time.Hour, false)
	require.NoError(t, os.WriteFile(filepath.Join(state, "sandbox", "up.log"), nil, 0o644))
	live := func(dir string) (bool, error) { return filepath.Base(dir) == "sb-running", nil }

	items, err := prune.SandboxLogs(state, live)
	require.NoError(t, err)
	require.Len(t, items, 3)
	ds := prune.Decide(items, prune.Policy{MaxAge: 24 * time.Hour}, now)
	done, err := prune.Apply(context.Background(), ds, nil, nil)
	require.NoError(t, err)
	require.Len(t, done, 1)
	require.Equal(t, "sb-old", done[0].Name)
	_, err = os.Stat(old)
	require.ErrorIs(t, err, os.ErrNotExist, "a sandbox left empty goes too")
	require.DirExists(t, filepath.Join(running, "logs"), "a running sandbox keeps its logs")

	none, err := prune.SandboxLogs(t.TempDir(), live)
	require.NoError(t, err)
	require.Empty(t, none)
}

type deleter struct{ got []index.Entry }

func (d *deleter) Delete(_ context.Context, es []index.Entry) error {
	d.got = append(d.got, es...)
	return nil
}

func TestApplyDeletesRunsThroughTheArchive(t *testing.T) {
	entries := []index.Entry{
		{Plan: "a", RunID: "a-1", StartTime: days(1), Path: "a/a-1"},
		{Plan: "a", RunID: "a-2", StartTime: days(2), Path: "a/a-2"},
		{Plan: "a", RunID: "a-3", StartTime: days(3), Path: "a/a-3"},
	}
	ds := prune.Decide(prune.Runs(entries), prune.Policy{Keep: 1}, now)
	d := &deleter{}
	done, err := prune.Apply(context.Background(), ds, d, entries)
	require.NoError(t, err)
	require.Len(t, done, 2)
	require.Equal(t, entries[1:], d.got)
}
