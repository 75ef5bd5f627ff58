package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/prune"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/journal"
)

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "1h30m": 90 * time.Minute} {
		got, err := parseAge(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
	_, err := parseAge("1.5d")
	require.ErrorContains(t, err, "days must be a whole number")
	_, err = parseAge("soon")
	require.ErrorContains(t, err, `--max-age "soon"`)
}

// state lays out a state directory: journals of nightly (an old finished
// run, a crashed one, the newest) and three sandboxes (stopped 10 days
// ago, one whose owner died 12 days ago, one running: this process).
func state(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	for _, j := range []struct {
		run     string
		age     time.Duration
		outcome string
	}{{"nightly-old", 20 * 24 * time.Hour, "Succeeded"}, {"nightly-crashed", 15 * 24 * time.Hour, ""}, {"nightly-new", time.Hour, "Failed"}} {
		clk := testingclock.NewFakePassiveClock(now.Add(-j.age))
		jr, err := journal.Create(jdir, journal.Record{RunID: j.run, Plan: "nightly", Started: now.Add(-j.age), Owner: journal.Owner{PID: 1}}, clk)
		require.NoError(t, err)
		require.NoError(t, jr.Begin("kill", v1alpha1.Fault{}, nil))
		require.NoError(t, jr.Set("kill", journal.Reverted, ""))
		if j.outcome != "" {
			require.NoError(t, jr.Finish(j.outcome))
		}
	}
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	for _, sb := range []struct {
		id  string
		pid int
		age time.Duration
	}{{"sb-stopped", 0, 10 * 24 * time.Hour}, {"sb-dead-owner", dead.Process.Pid, 12 * 24 * time.Hour}, {"sb-running", os.Getpid(), 24 * time.Hour}} {
		logs := filepath.Join(dir, "sandbox", sb.id, "logs")
		require.NoError(t, os.MkdirAll(logs, 0o755))
		f := filepath.Join(logs, "frontdoor.log")
		require.NoError(t, os.WriteFile(f, []byte("log\n"), 0o644))
		old := now.Add(-sb.age)
		require.NoError(t, os.Chtimes(f, old, old))
		require.NoError(t, os.Chtimes(logs, old, old))
		if sb.pid != 0 {
			st := `{"id":"` + sb.id + `","pid":` + strconv.Itoa(sb.pid) + `,"logs":"` + logs + `"}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sandbox", sb.id, "sandbox.json"), []byte(st), 0o644))
		}
	}
	return dir
}

func TestPruneRemovesOldRunsJournalsAndSandboxLogsButNothingLive(t *testing.T) {
	root := fixture(t)
	now := time.Date(2026, 12, 30, 12, 0, 0, 0, time.UTC)
	stateDir := state(t, now)
	a, err := local.New(root)
	require.NoError(t, err)
	var out bytes.Buffer
	e := &env{archive: a, format: output.JSON, out: &out, err: &bytes.Buffer{}}
	opts := pruneOptions{Policy: prune.Policy{Keep: 1, MaxAge: 7 * 24 * time.Hour}, StateDir: stateDir, Clock: testingclock.NewFakePassiveClock(now)}

	dry := opts
	dry.DryRun = true
	require.NoError(t, runPrune(context.Background(), e, dry))
	var res pruneResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &res))
	var names []string
	for _, d := range res.Removed {
		names = append(names, string(d.Kind)+" "+d.Name)
	}
	require.Equal(t, []string{
		"run nightly-20261201-030000-000-0000", "run nightly-20261202-030000-000-0001", "run nightly-20261203-030000-000-0002", "run nightly-20261204-030000-000-0003",
		"journal nightly-old",
		"sandbox-logs sb-dead-owner", "sandbox-logs sb-stopped",
	}, names)
	idx, err := a.Index(context.Background())
	require.NoError(t, err)
	require.Len(t, idx.Runs, 6, "a dry run removes nothing")

	out.Reset()
	require.NoError(t, runPrune(context.Background(), e, opts))
	idx, err = a.Index(context.Background())
	require.NoError(t, err)
	require.Len(t, idx.Runs, 2, "nightly keeps its newest, weekly its only run")
	for _, gone := range []string{"nightly-20261201-030000-000-0000", "nightly-20261202-030000-000-0001", "nightly-20261203-030000-000-0002", "nightly-20261204-030000-000-0003"} {
		require.NoDirExists(t, filepath.Join(root, "nightly", gone))
	}
	require.NoFileExists(t, filepath.Join(stateDir, "journal", "nightly-old.json"))
	require.FileExists(t, filepath.Join(stateDir, "journal", "nightly-crashed.json"), "drill cleanup needs an unfinished run's journal")
	require.FileExists(t, filepath.Join(stateDir, "journal", "nightly-new.json"), "drill run --resume needs the newest")
	require.NoDirExists(t, filepath.Join(stateDir, "sandbox", "sb-stopped"))
	require.NoDirExists(t, filepath.Join(stateDir, "sandbox", "sb-dead-owner", "logs"))
	require.DirExists(t, filepath.Join(stateDir, "sandbox", "sb-running", "logs"), "a live sandbox keeps its logs")
}

func TestPruneCommand(t *testing.T) {
	root := fixture(t)
	stateDir := t.TempDir()
	_, errOut, code := execute(t, "prune", "--archive", root, "--state-dir", stateDir)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "give --keep N, --max-age D or both")
	out, errOut, code := execute(t, "prune", "--keep", "4", "--dry-run", "--archive", root, "--state-dir", stateDir)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "would remove run nightly/nightly-20261201-030000-000-0000 (2026-12-01 03:00:00): number 5 by age, beyond the 4 newest\n"+
		"would remove 1, kept 5 (remove what is beyond the 4 newest of its group)\n", out)
	out, _, code = execute(t, "prune", "--keep", "4", "--archive", root, "--state-dir", stateDir)
	require.Equal(t, 0, code)
	require.Contains(t, out, "removed 1, kept 5")
	out, _, _ = execute(t, "list", "--archive", root)
	require.NotContains(t, out, "nightly-20261201-030000-000-0000")
}
