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
	reccli "github.com/firedrill/firedrill/pkg/recommender/cli"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/report/schema"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// TestMain lets the test binary act as drill: the crash tests start it as a
// separate process so they can kill -9 it.
func TestMain(m *testing.M) {
	if os.Getenv("FIREDRILL_TEST_AS_DRILL") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := NewRootCommand(Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, reccli.NewCommand)
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil && !exitcode.IsReported(err) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(exitcode.Of(err))
	}
	os.Exit(m.Run())
}

func drillProcess(t *testing.T, args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FIREDRILL_TEST_AS_DRILL=1")
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
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
	cmd, out := drillProcess(t, "run", "--state-dir", state, "--archive", reports, plan)
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
	cmd, _ := drillProcess(t, "run", "--state-dir", state, "--archive", reports, crashPlan(t, endpoint, marker))
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	other := filepath.Join(t.TempDir(), "other-marker")
	next, nout := drillProcess(t, "run", "--dry-run", "--state-dir", state, crashPlan(t, endpoint, other))
	require.NoError(t, next.Run(), nout.String())
	require.FileExists(t, marker, "a dry run touches nothing, not even leftovers")

	next, nout = drillProcess(t, "run", "--state-dir", state, "--archive", reports, crashPlan(t, endpoint, other))
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
	cmd, out := drillProcess(t, "run", "--state-dir", state, "--archive", reports, "--run-id", "ctrl-c", crashPlan(t, okServer(t), marker))
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

	cmd, out := drillProcess(t, "run", "--state-dir", state, "--archive", reports, path)
	require.NoError(t, cmd.Start())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	resumed, rout := drillProcess(t, "run", "--resume", "--state-dir", state, "--archive", reports, path)
	require.NoError(t, resumed.Run(), out.String()+rout.String())
	require.Contains(t, rout.String(), "resuming run resume-")
	require.Contains(t, rout.String(), "skipping baseline, first")
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Equal(t, "first\nsecond\nsecond\n", string(log), "first ran once; second ran again")
	require.NoFileExists(t, marker)

	again, aout := drillProcess(t, "run", "--resume", "--state-dir", state, "--archive", reports, path)
	require.Error(t, again.Run())
	require.Contains(t, aout.String(), "nothing to resume")
}

// TestHTTPServiceExample runs drills/http-service.yaml, as its comments
// tell a user to, against a real recommender process: the SIGSTOP/SIGCONT
// runbook fault is measured and reverted.
func TestHTTPServiceExample(t *testing.T) {
	work := t.TempDir()
	data, model := filepath.Join(work, "data"), filepath.Join(work, "model")
	for _, args := range [][]string{
		{"recommender", "gen", "--users", "500", "--items", "300", "--out", data},
		{"recommender", "train", "--data", data, "--out", model, "--skip-eval"},
	} {
		c, out := drillProcess(t, args...)
		require.NoError(t, c.Run(), out.String())
	}
	serve, sout := drillProcess(t, "recommender", "serve", "--model-dir", model, "--addr", "127.0.0.1:0", "--cache-dir", filepath.Join(work, "cache"))
	require.NoError(t, serve.Start())
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	var addr string
	require.Eventually(t, func() bool {
		for _, line := range bytes.Split(sout.Bytes(), []byte("\n")) {
			if a, ok := bytes.CutPrefix(line, []byte("listening on ")); ok {
				addr = string(a)
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "the recommender did not start")

	plan, err := os.ReadFile("../../drills/http-service.yaml")
	require.NoError(t, err)
	path := filepath.Join(work, "http-service.yaml")
	require.NoError(t, os.WriteFile(path, bytes.ReplaceAll(plan, []byte("127.0.0.1:8080"), []byte(addr)), 0o644))

	reports := t.TempDir()
	run, out := drillProcess(t, "run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "example", path)
	run.Env = append(run.Env, fmt.Sprintf("SERVICE_PID=%d", serve.Process.Pid))
	require.NoError(t, run.Run(), out.String())
	data2, err := os.ReadFile(filepath.Join(reports, "http-service", "example", "report.json"))
	require.NoError(t, err)
	rep, err := report.Read(data2)
	require.NoError(t, err)
	require.NoError(t, schema.Validate(data2), "a real report matches the published schema")
	f := rep.Steps[1].Fault
	require.NotNil(t, f.Failover.ServiceRTO, out.String())
	require.InDelta(t, float64(3*time.Second), float64(f.Failover.ServiceRTO.Duration), float64(600*time.Millisecond),
		"a 3 s freeze is measured as about 3 s of outage")
	require.NotNil(t, f.Reverted)
}
