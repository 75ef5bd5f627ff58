package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/cmd"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/sandbox"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	reccli "github.com/firedrill/firedrill/pkg/recommender/cli"
)

const envAsDrill = "FIREDRILL_TEST_AS_DRILL"

// TestMain lets the test binary act as drill: `sandbox up --background`
// re-executes it, and the sandbox runs it as its children.
func TestMain(m *testing.M) {
	if os.Getenv(envAsDrill) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := cmd.NewRootCommand(cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, reccli.NewCommand, frontdoor.NewCommand)
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil && !exitcode.IsReported(err) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(exitcode.Of(err))
	}
	os.Exit(m.Run())
}

func drill(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...) //nolint:gosec // the test binary itself.
	cmd.Env = append(append(os.Environ(), envAsDrill+"=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// drillStdout runs drill and returns its stdout and stderr apart.
func drillStdout(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...) //nolint:gosec // the test binary itself.
	cmd.Env = append(append(os.Environ(), envAsDrill+"=1"), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func TestUpStatusDown(t *testing.T) {
	state := t.TempDir()
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	require.NoError(t, os.WriteFile(plan, []byte(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: tiny}
spec:
  target:
    platform: local
    local:
      regions: [{name: east, nodes: 1, replicas: 1}, {name: west, nodes: 1, replicas: 1}]
      model: {users: 200, items: 100}
  steps: [{name: wait, wait: 1s}]
`), 0o644))
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	out, err := drill(t, env, "sandbox", "up", "--background", "--state-dir", state, plan)
	require.NoError(t, err, out)
	require.Contains(t, out, "front door   http://127.0.0.1:")
	require.Contains(t, out, "region east")
	t.Cleanup(func() { _, _ = drill(t, env, "sandbox", "down", "--state-dir", state) })

	out, err = drill(t, env, "sandbox", "up", "--background", "--state-dir", state, plan)
	require.Error(t, err, "one sandbox at a time")
	require.Contains(t, out, "already running")

	// The document for machines: every replica of both regions ready.
	require.Eventually(t, func() bool {
		stdout, _, err := drillStdout(t, env, "sandbox", "status", "-o", "json", "--state-dir", state)
		var st sandbox.Status
		if err != nil || json.Unmarshal([]byte(stdout), &st) != nil || st.Traffic == nil || st.Traffic.Active != "east" || len(st.Regions) != 2 {
			return false
		}
		for _, r := range st.Regions {
			if r.Store == "" || len(r.Replicas) != 1 || r.Replicas[0].Phase != sandbox.PhaseReady {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "sandbox status -o json shows both regions' stores and ready replicas")

	endpoint, err := drill(t, env, "sandbox", "status", "--endpoint", "--state-dir", state)
	require.NoError(t, err, endpoint)
	resp, err := http.Get(strings.TrimSpace(endpoint) + "/v1/sample?n=2") //nolint:noctx // test.
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "east", resp.Header.Get("X-Firedrill-Region"))

	dir := filepath.Join(state, "sandbox", sandbox.ID)
	require.NotEmpty(t, processesOf(dir))
	out, err = drill(t, env, "sandbox", "down", "--state-dir", state)
	require.NoError(t, err, out)
	require.Contains(t, out, "stopped")
	require.Eventually(t, func() bool { return len(processesOf(dir)) == 0 }, 10*time.Second, 20*time.Millisecond)
	out, err = drill(t, env, "sandbox", "status", "--state-dir", state)
	require.Error(t, err)
	require.Contains(t, out, "no sandbox is running")
}

func processesOf(dir string) []int {
	var pids []int
	for _, p := range local.SandboxProcesses() {
		if p.Sandbox == dir {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}
