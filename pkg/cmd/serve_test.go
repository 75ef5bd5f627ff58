package cmd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

var listening = regexp.MustCompile(`msg="API listening" addr=(\S+)`)

// serveProcess starts drill serve as its own process and returns it with
// its API's base URL and token once it is ready; extra are more
// arguments.
func serveProcess(t *testing.T, plans, state string, extra ...string) (*exec.Cmd, *syncbuf.Buffer, string, string) {
	t.Helper()
	args := append([]string{"serve", "--plans", plans, "--state-dir", state, "--archive", filepath.Join(state, "reports"), "--listen", "127.0.0.1:0"}, extra...)
	cmd, out := drillProcess(t, args...)
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

// TestServeDashboardSecureCookie: --dashboard-secure-cookie, or its key
// in FIREDRILL_* or the config file, marks the dashboard's login cookie
// Secure on plain HTTP (behind a proxy that terminates TLS); without it
// the cookie is Secure only over TLS.
func TestServeDashboardSecureCookie(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    string // FIREDRILL_DASHBOARD_SECURE_COOKIE
		config string // the config file
		secure bool
	}{
		{name: "by default a cookie over HTTP is not Secure", secure: false},
		{name: "the flag marks it Secure", args: []string{"--dashboard-secure-cookie"}, secure: true},
		{name: "so does FIREDRILL_DASHBOARD_SECURE_COOKIE", env: "true", secure: true},
		{name: "so does the config file", config: "dashboard-secure-cookie: true\n", secure: true},
		{name: "the flag wins over the environment", args: []string{"--dashboard-secure-cookie=false"}, env: "true", secure: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FIREDRILL_DASHBOARD_SECURE_COOKIE", tt.env)
			args := tt.args
			if tt.config != "" {
				cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
				require.NoError(t, os.WriteFile(cfg, []byte(tt.config), 0o600))
				args = append(args, "--config", cfg)
			}
			cmd, out, base, token := serveProcess(t, t.TempDir(), t.TempDir(), args...)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
			resp, err := http.DefaultTransport.RoundTrip(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, out.String())
			cookies := resp.Cookies()
			require.Len(t, cookies, 1)
			require.Equal(t, "firedrill_token", cookies[0].Name)
			require.True(t, cookies[0].HttpOnly)
			require.Equal(t, tt.secure, cookies[0].Secure, resp.Header.Values("Set-Cookie"))
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, cmd.Wait(), out.String())
		})
	}
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
