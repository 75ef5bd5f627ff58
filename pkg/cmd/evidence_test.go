package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/journal"
)

// shortPlan is a plan that runs one quick exec fault against endpoint.
func shortPlan(t *testing.T, name, endpoint, marker string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 300ms}}
  steps:
    - {name: baseline, wait: 100ms}
    - name: flag
      fault:
        exec:
          inject: {command: [touch, %q]}
`, name, endpoint, marker)), 0o644))
	return path
}

// TestAnUnwritableReportDirIsRefusedBeforeAnythingIsTouched: issue 11
// item 6. Before, the report directory was only tried after the faults.
func TestAnUnwritableReportDirIsRefusedBeforeAnythingIsTouched(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "fault-active")
	state := t.TempDir()
	blocked := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))
	run, out := drillProcess(t, "run", "--state-dir", state, "--archive", filepath.Join(blocked, "reports"), shortPlan(t, "unwritable", okServer(t), marker))
	err := run.Run()
	require.Error(t, err)
	require.Equal(t, 2, run.ProcessState.ExitCode(), out.String())
	require.Contains(t, out.String(), "archive "+filepath.Join(blocked, "reports")+" cannot be created")
	require.Contains(t, out.String(), "nothing was touched")
	require.NoFileExists(t, marker, "no fault was injected")
	recs, err := journal.Load(filepath.Join(state, "journal"))
	require.NoError(t, err)
	require.Empty(t, recs, "no run was journaled")
}

// TestRunsStartedWithinOneSecondGetTheirOwnJournalAndReport: issue 11
// item 5. Before, run ids had one-second resolution: the second of two
// sequential runs failed with "journal … already exists".
func TestRunsStartedWithinOneSecondGetTheirOwnJournalAndReport(t *testing.T) {
	state, reports := t.TempDir(), t.TempDir()
	plan := shortPlan(t, "twice", okServer(t), filepath.Join(t.TempDir(), "flag"))
	start := time.Now()
	for range 2 {
		run, out := drillProcess(t, "run", "--state-dir", state, "--archive", reports, plan)
		// The verdict is not the point (a loaded machine may miss the
		// 200 ms baseline); the run's own journal and report are.
		_ = run.Run()
		require.NotContains(t, out.String(), "already exists")
		require.Contains(t, out.String(), "report: ", out.String())
	}
	t.Logf("two runs in %s", time.Since(start))
	dirs, err := os.ReadDir(filepath.Join(reports, "twice"))
	require.NoError(t, err)
	require.Len(t, dirs, 2, "two report directories")
	recs, err := journal.Load(filepath.Join(state, "journal"))
	require.NoError(t, err)
	require.Len(t, recs, 2, "two journals")
	for _, d := range dirs {
		require.Regexp(t, `^twice-\d{8}-\d{6}-\d{3}-[0-9a-f]{4}$`, d.Name())
	}
}

// TestASecondRunOfAPlanIsRefusedWhileTheFirstIsActive: issue 11 item 5.
func TestASecondRunOfAPlanIsRefusedWhileTheFirstIsActive(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "fault-active")
	state := t.TempDir()
	plan := crashPlan(t, okServer(t), marker)
	first, out := drillProcess(t, "run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "first", plan)
	require.NoError(t, first.Start())
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	waitFor(t, marker)

	second, out2 := drillProcess(t, "run", "--state-dir", state, "--archive", t.TempDir(), plan)
	err := second.Run()
	require.Error(t, err)
	require.Equal(t, 2, second.ProcessState.ExitCode())
	require.Contains(t, out2.String(), "plan crash is already running against the same target as run first", out2.String())
	require.FileExists(t, marker, "the first run's fault is untouched")

	require.NoError(t, first.Process.Kill()) // a dead holder never blocks
	_ = first.Wait()
	third, out3 := drillProcess(t, "cleanup", "--state-dir", state)
	require.NoError(t, third.Run(), out3.String())
	require.NoFileExists(t, marker)
	_ = out
	require.False(t, strings.Contains(out3.String(), "already running"))
}
