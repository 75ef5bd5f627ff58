package cmd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/report"
)

// TestMain lets the test binary act as drill: the crash tests start it as a
// separate process so they can kill -9 it.
func TestMain(m *testing.M) {
	if os.Getenv("FIREDRILL_TEST_AS_DRILL") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := NewRootCommand(Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil && !exitcode.IsReported(err) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(exitcode.Of(err))
	}
	os.Exit(m.Run())
}

func drillProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FIREDRILL_TEST_AS_DRILL=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func okServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func crashPlan(t *testing.T, endpoint, marker string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: crash}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 500ms}}
  steps:
    - {name: baseline, wait: 200ms}
    - name: flag
      fault:
        duration: 5m
        exec:
          inject: {command: [touch, %q]}
          revert: {command: [rm, %q]}
`, endpoint, marker, marker)), 0o644))
	return path
}

func waitFor(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 30*time.Second, 10*time.Millisecond, "the fault was never injected")
}

// TestKillDashNineThenCleanup: a drill killed with SIGKILL in the middle of
// a fault leaves it active; drill cleanup reverts it.
func TestKillDashNineThenCleanup(t *testing.T) {
	state, reports := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	plan := crashPlan(t, okServer(t), marker)
	cmd, out := drillProcess(t, "run", "--state-dir", state, "--report-dir", reports, plan)
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.FileExists(t, marker, "kill -9 leaves the fault active: nothing could revert it")

	cleanup, cout := drillProcess(t, "cleanup", "--state-dir", state)
	require.NoError(t, cleanup.Run(), cout.String())
	require.NoFileExists(t, marker, "drill cleanup reverts it")
	require.Contains(t, cout.String(), "step flag (exec on action/flag): reverted")

	again, aout := drillProcess(t, "cleanup", "--state-dir", state)
	require.NoError(t, again.Run())
	require.Contains(t, aout.String(), "no faults left active", out.String())
}

// TestNextRunCleansUp: the next drill run reverts what a killed one left.
func TestNextRunCleansUp(t *testing.T) {
	state, reports := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	endpoint := okServer(t)
	cmd, _ := drillProcess(t, "run", "--state-dir", state, "--report-dir", reports, crashPlan(t, endpoint, marker))
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	other := filepath.Join(t.TempDir(), "other-marker")
	next, nout := drillProcess(t, "run", "--dry-run", "--state-dir", state, crashPlan(t, endpoint, other))
	require.NoError(t, next.Run(), nout.String())
	require.FileExists(t, marker, "a dry run touches nothing, not even leftovers")

	next, nout = drillProcess(t, "run", "--state-dir", state, "--report-dir", reports, crashPlan(t, endpoint, other))
	require.NoError(t, next.Start())
	waitFor(t, other)
	require.NoFileExists(t, marker, "the next run reverted the leftover before starting")
	require.NoError(t, next.Process.Signal(os.Interrupt))
	_ = next.Wait()
	require.Contains(t, nout.String(), "cleanup: run crash-")
}

// TestInterruptRevertsAndWritesAbortedReport: Ctrl-C during a fault.
func TestInterruptRevertsAndWritesAbortedReport(t *testing.T) {
	state, reports := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	cmd, out := drillProcess(t, "run", "--state-dir", state, "--report-dir", reports, "--run-id", "ctrl-c", crashPlan(t, okServer(t), marker))
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, out.String())
	require.Equal(t, 2, exitErr.ExitCode(), "an aborted drill exits 2")
	require.NoFileExists(t, marker, "Ctrl-C reverts the active fault")
	data, err := os.ReadFile(filepath.Join(reports, "crash", "ctrl-c", "report.json"))
	require.NoError(t, err, out.String())
	rep, err := report.Read(data)
	require.NoError(t, err)
	require.Equal(t, "Aborted", string(rep.Phase))
	require.NotNil(t, rep.Steps[1].Fault.Reverted)
	require.FileExists(t, filepath.Join(reports, "crash", "ctrl-c", "junit.xml"))
	require.FileExists(t, filepath.Join(reports, "crash", "ctrl-c", "report.md"))
}

// TestResumeSkipsCompletedSteps: after a kill -9, --resume reverts the
// leftover and runs only the steps the dead run had not completed.
func TestResumeSkipsCompletedSteps(t *testing.T) {
	state, reports, work := t.TempDir(), t.TempDir(), t.TempDir()
	logFile, marker := filepath.Join(work, "actions.log"), filepath.Join(work, "second-active")
	path := filepath.Join(work, "plan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: resume}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 500ms}}
  steps:
    - {name: baseline, wait: 200ms}
    - name: first
      fault:
        exec: {inject: {command: [sh, -c, "echo first >> %[2]s"]}}
    - name: second
      fault:
        duration: 1s
        exec:
          inject: {command: [sh, -c, "echo second >> %[2]s && touch %[3]s"]}
          revert: {command: [rm, %[3]q]}
`, okServer(t), logFile, marker)), 0o644))

	cmd, out := drillProcess(t, "run", "--state-dir", state, "--report-dir", reports, path)
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	resumed, rout := drillProcess(t, "run", "--resume", "--state-dir", state, "--report-dir", reports, path)
	require.NoError(t, resumed.Run(), out.String()+rout.String())
	require.Contains(t, rout.String(), "resuming run resume-")
	require.Contains(t, rout.String(), "skipping baseline, first")
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Equal(t, "first\nsecond\nsecond\n", string(log), "first ran once; second ran again")
	require.NoFileExists(t, marker)

	again, aout := drillProcess(t, "run", "--resume", "--state-dir", state, "--report-dir", reports, path)
	require.Error(t, again.Run())
	require.Contains(t, aout.String(), "nothing to resume")
}
