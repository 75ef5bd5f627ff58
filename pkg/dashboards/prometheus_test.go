package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/metrics/promtest"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// servedPlan drills a one-region local sandbox: a pod kill (capacity is
// tracked) and a timed model-store outage (a failover and a fail-back).
const servedPlan = `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: served}
spec:
  schedule: "@every 1h"
  target:
    platform: local
    local:
      regions: [{name: us-east, nodes: 2, replicas: 2}]
      startDelay: 300ms
      model: {users: 500, items: 300}
  load: {rate: 20, timeout: 2s}
  objectives: {rto: 2m, recovered: {successRate: "90", for: 1s}}
  safety: {maxPodsPercent: 50, maxNodes: 1}
  steps:
    - {name: baseline, wait: 5s}
    - name: kill-one-replica
      fault: {podKill: {region: us-east, mode: one}}
    - name: store-outage
      fault: {modelStoreOutage: {mode: unavailable, region: us-east, restartReplicas: 1}, duration: 2s}
`

// pushedPlan drills a loopback HTTP service with an exec fault that it
// shrugs off after a second, and whose revert disrupts it for a second.
const pushedPlan = `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: pushed}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load: {rate: 20, timeout: 1s, requests: [{path: /}]}
  objectives: {rto: 1m, recovered: {successRate: "90", for: 1s}}
  steps:
    - {name: baseline, wait: 3s}
    - name: flip-config
      fault:
        duration: 3s
        exec:
          inject: {command: [touch, %q]}
          revert: {command: [rm, %q]}
`

// TestEveryPanelQueryReturnsData: a real Prometheus scrapes a real
// Pushgateway and a real one-machine drill serve (the drill binary, with
// a plans directory, its API's /metrics read with a bearer token), after
// two real drills: one drill serve runs on the local sandbox, triggered
// through its API, and one drill run --pushgateway process. Then every
// query of every panel of the committed dashboard, with All plans and a
// 1h range, returns a finite value; and promtool check metrics passes on
// drill serve's firedrill_ exposition.
func TestEveryPanelQueryReturnsData(t *testing.T) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	srv := startServe(ctx, t)
	pg := promtest.StartPushgateway(t)
	prom := promtest.StartPrometheus(t,
		promtest.Target{Job: "drill-serve", Addr: srv.addr, BearerToken: srv.token},
		promtest.Target{Job: "pushgateway", Addr: pg.Addr, HonorLabels: true},
	)

	served := srv.drill(ctx, t, "served")
	t.Logf("served drill: %s (%s)", served, time.Since(started).Round(time.Millisecond))
	pushed := pushedDrill(t, pg.URL)
	t.Logf("pushed drill: %s (%s)", pushed, time.Since(started).Round(time.Millisecond))

	// Prometheus has scraped both runs' results.
	for _, q := range []string{
		`firedrill_run_last_result{job="drill-serve", plan="served"}`,
		`firedrill_run_last_result{job="firedrill", instance="pushed", plan="pushed"}`,
	} {
		require.Eventually(t, func() bool { return len(instantVector(ctx, t, prom, q)) > 0 }, 30*time.Second, 250*time.Millisecond, "%s never came", q)
	}
	for _, q := range []string{
		`firedrill_fault_last_capacity_rto_seconds{plan="served", step="kill-one-replica", recovery="failover"}`,
		`firedrill_fault_last_recovery_time_seconds{plan="served", step="store-outage", recovery="failback"}`,
		`firedrill_fault_last_recovery_time_seconds{plan="pushed", step="flip-config", recovery="failback"}`,
		`firedrill_schedule_next_run_timestamp_seconds{plan="served"} > time()`,
		`max_over_time(sum(firedrill_fault_active{plan="served"})[10m:1s]) == 1`,
		`sum(firedrill_fault_active) == 0`,
	} {
		require.NotEmpty(t, instantVector(ctx, t, prom, q), "%s: no data", q)
	}

	now := time.Now()
	panels := panelsOf(t, readCommitted(t))
	n := 0
	for _, p := range panels {
		for _, q := range p.Queries {
			expr := expand(q.Expr, "1h")
			var v model.Value
			var err error
			if q.Instant {
				v, err = prom.Query(ctx, expr)
			} else {
				v, err = prom.QueryRange(ctx, expr, started, now, time.Second)
			}
			require.NoError(t, err, "panel %q query %s", p.Title, q.RefID)
			require.True(t, finite(v), "panel %q query %s returned no finite value: %s\n= %s", p.Title, q.RefID, expr, v)
			n++
		}
	}
	t.Logf("%d queries of %d panels returned data (%s)", n, len(panels), time.Since(started).Round(time.Millisecond))

	// promtool lints drill serve's firedrill_ exposition.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(srv.get(ctx, t, "/metrics")))
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	names := make([]string, 0, len(mfs))
	for name := range mfs {
		if strings.HasPrefix(name, "firedrill_") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	require.NotEmpty(t, names)
	for _, name := range names {
		require.NoError(t, enc.Encode(mfs[name]))
	}
	require.Empty(t, promtest.CheckMetrics(t, buf.Bytes()), "promtool check metrics")
}

// served is a one-machine drill serve: the drill binary serving a plans
// directory holding servedPlan, its API on a loopback port.
type served struct {
	addr, token string
}

// startServe starts drill serve --plans in a separate process and waits
// until it is ready; it is stopped with SIGTERM when the test ends.
func startServe(ctx context.Context, t *testing.T) *served {
	t.Helper()
	dir := t.TempDir()
	plans := filepath.Join(dir, "plans")
	require.NoError(t, os.MkdirAll(plans, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(plans, "served.yaml"), []byte(servedPlan), 0o600))
	s := &served{token: "prometheus-token-0123456789"}
	tokens := filepath.Join(dir, "tokens.yaml")
	require.NoError(t, os.WriteFile(tokens, []byte("tokens:\n  - {user: prometheus, token: "+s.token+", rights: [read, trigger, metrics]}\n"), 0o600))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	require.NoError(t, ln.Close())
	exe, err := os.Executable()
	require.NoError(t, err)
	var out syncbuf.Buffer
	cmd := exec.Command(exe, "serve", "--plans", plans, "--state-dir", filepath.Join(dir, "state"), "--archive", filepath.Join(dir, "reports"),
		"--listen", s.addr, "--token-file", tokens)
	cmd.Env = append(os.Environ(), envAsDrill+"=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("drill serve output:\n%s", out.String())
		}
	})
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "drill serve never became ready:\n%s", &out)
	return s
}

// call sends a request to drill serve's API with its token and decodes
// the JSON answer into out (when not nil).
func (s *served) call(ctx context.Context, t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

// get reads a page of drill serve's API.
func (s *served) get(ctx context.Context, t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	return string(data)
}

// drill triggers a run of plan through the API and waits for it to
// finish; it returns its outcome ("Succeeded, verdict Pass").
func (s *served) drill(ctx context.Context, t *testing.T, plan string) string {
	t.Helper()
	var run struct {
		ID      string `json:"id"`
		Phase   string `json:"phase"`
		Verdict string `json:"verdict"`
		Message string `json:"message"`
	}
	require.Equal(t, http.StatusCreated, s.call(ctx, t, http.MethodPost, "/api/v1/runs", `{"plan":"`+plan+`"}`, &run))
	id := run.ID
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, s.call(ctx, t, http.MethodGet, "/api/v1/runs/"+id, "", &run))
		return v1alpha1.RunPhase(run.Phase).IsTerminal()
	}, 150*time.Second, 250*time.Millisecond, "run %s never finished", id)
	return fmt.Sprintf("%s, verdict %s %s", run.Phase, run.Verdict, run.Message)
}

// pushedDrill runs pushedPlan with drill run --pushgateway in a separate
// process and returns its outcome line ("Succeeded, verdict Pass").
func pushedDrill(t *testing.T, pushgateway string) string {
	t.Helper()
	dir := t.TempDir()
	marker := filepath.Join(dir, "config-flipped")
	endpoint := flakyService(t, marker)
	path := filepath.Join(dir, "pushed.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(pushedPlan, endpoint, marker, marker)), 0o600))
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "run", "--state-dir", filepath.Join(dir, "state"), "--archive", filepath.Join(dir, "reports"), "--pushgateway", pushgateway, path)
	cmd.Env = append(os.Environ(), envAsDrill+"=1")
	out, err := cmd.CombinedOutput()
	require.NotEqual(t, 2, cmd.ProcessState.ExitCode(), "drill run could not run or push: %v\n%s", err, out)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ", verdict ") && !strings.Contains(line, "finished") {
			return line
		}
	}
	return "no outcome line"
}

// flakyService is a loopback HTTP service that fails for the first second
// after marker appears or disappears (a config flip it recovers from), and
// returns its URL.
func flakyService(t *testing.T, marker string) string {
	t.Helper()
	var mu sync.Mutex
	present, changed := false, time.Time{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, statErr := os.Stat(marker)
		mu.Lock()
		if now := (statErr == nil); now != present {
			present, changed = now, time.Now()
		}
		failing := time.Since(changed) < time.Second
		mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func instantVector(ctx context.Context, t *testing.T, prom *promtest.Prometheus, q string) model.Vector {
	t.Helper()
	v, err := prom.Query(ctx, q)
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "%s is a %s, not a vector", q, v.Type())
	return vec
}

// finite says whether a query result holds at least one finite sample.
func finite(v model.Value) bool {
	ok := func(f model.SampleValue) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
	switch v := v.(type) {
	case model.Vector:
		for _, s := range v {
			if ok(s.Value) {
				return true
			}
		}
	case model.Matrix:
		for _, s := range v {
			for _, p := range s.Values {
				if ok(p.Value) {
					return true
				}
			}
		}
	case *model.Scalar:
		return ok(v.Value)
	}
	return false
}
