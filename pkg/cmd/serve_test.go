package cmd

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/server"
)

var listening = regexp.MustCompile(`msg="API listening" addr=(\S+)`)

// serveProcess starts drill serve as its own process and returns it with
// its API's base URL and token once it is ready.
func serveProcess(t *testing.T, plans, state string) (*exec.Cmd, *syncBuffer, string, string) {
	t.Helper()
	cmd, out := drillProcess(t, "serve", "--plans", plans, "--state-dir", state, "--archive", filepath.Join(state, "reports"), "--listen", "127.0.0.1:0")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	var base string
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "drill serve is ready") {
			base = "http://" + m[1]
			return true
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "drill serve never got ready: %s", out)
	token, err := os.ReadFile(filepath.Join(state, "serve", "token"))
	require.NoError(t, err)
	return cmd, out, base, strings.TrimSpace(string(token))
}

func apiCall(t *testing.T, base, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

// TestServeKillDashNineThenRestart: drill serve killed with SIGKILL while
// a run holds a fault; the next drill serve reverts the fault and lists
// the run as Error, with what reverted it.
func TestServeKillDashNineThenRestart(t *testing.T) {
	plans, state := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	require.NoError(t, os.Rename(crashPlan(t, okServer(t), marker), filepath.Join(plans, "crash.yaml")))
	cmd, out, base, token := serveProcess(t, plans, state)

	var run server.Run
	require.Equal(t, http.StatusCreated, apiCall(t, base, token, http.MethodPost, "/api/v1/runs", `{"plan":"crash"}`, &run), out.String())
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.FileExists(t, marker, "kill -9 leaves the fault active")

	_, out, base, token = serveProcess(t, plans, state)
	require.NoFileExists(t, marker, "the next drill serve reverted it before it got ready")
	var got server.RunDetail
	require.Equal(t, http.StatusOK, apiCall(t, base, token, http.MethodGet, "/api/v1/runs/"+run.ID, "", &got), out.String())
	require.Equal(t, v1alpha1.RunError, got.Phase)
	require.Contains(t, got.Message, "drill serve stopped while the run was going (killed or crashed); when it started again it reverted: run "+run.ID+", step flag (exec on action/flag): reverted")
	require.NotNil(t, got.Report)
	require.Equal(t, "crash", got.Report.Plan.Name)
	require.Contains(t, out.String(), `msg="a run that died left a fault"`)
}

// TestServeSIGTERMRevertsAndExits: SIGTERM aborts the run in progress,
// which reverts its fault, and drill serve exits 0.
func TestServeSIGTERMRevertsAndExits(t *testing.T) {
	plans, state := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	require.NoError(t, os.Rename(crashPlan(t, okServer(t), marker), filepath.Join(plans, "crash.yaml")))
	cmd, out, base, token := serveProcess(t, plans, state)
	var run server.Run
	require.Equal(t, http.StatusCreated, apiCall(t, base, token, http.MethodPost, "/api/v1/runs", `{"plan":"crash"}`, &run))
	waitFor(t, marker)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), out.String())
	require.NoFileExists(t, marker, "SIGTERM reverted the fault")
	report := filepath.Join(state, "reports", "crash", run.ID, "report.json")
	data, err := os.ReadFile(report)
	require.NoError(t, err, out.String())
	require.Contains(t, string(data), `"phase": "Aborted"`)
	require.Contains(t, out.String(), `msg="plans runner stopped" err=<nil>`)
}

// TestServeRefusesBeyondLoopbackWithoutTokens: nothing starts.
func TestServeRefusesBeyondLoopbackWithoutTokens(t *testing.T) {
	_, errOut, code := execute(t, "", "serve", "--plans", t.TempDir(), "--state-dir", t.TempDir(), "--listen", ":0")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--listen :0 is beyond loopback: give --token-file")
}

// TestServeWithoutPlansIsClusterMode: without --plans drill serve runs in
// a cluster; with no cluster configured it says where it looked, and a
// token file (one machine's authentication) is refused there. Nothing
// starts. The cluster mode itself runs in e2e (e2e/serve_test.go).
func TestServeWithoutPlansIsClusterMode(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	_, errOut, code := execute(t, "", "serve", "--state-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no Kubernetes cluster configured: looked at --kubeconfig (not set)")

	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	_, errOut, code = execute(t, "", "serve", "--state-dir", t.TempDir(), "--token-file", tokens)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--token-file is for one machine (--plans): in a cluster the API's bearer tokens are Kubernetes tokens")
}
