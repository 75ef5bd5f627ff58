package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/metrics/promtest"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
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
// Pushgateway and drill serve's metrics, after two real drills: one run
// in-process on the engine and the local sandbox, fed to the metrics the
// way drill serve's runners feed them (SetPlan from the scheduler's
// decision, RunUpdated with live snapshots, RunFinished), and one drill
// run --pushgateway process. Then every query of every panel of the
// committed dashboard, with All plans and a 1h range, returns a finite
// value; and promtool check metrics passes on the exposition.
func TestEveryPanelQueryReturnsData(t *testing.T) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// drill serve's side: the metrics on a registry served at /metrics.
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg)
	require.NoError(t, err)
	serveAddr := serveMetrics(t, reg)
	pg := promtest.StartPushgateway(t)
	prom := promtest.StartPrometheus(t,
		promtest.Target{Job: "drill-serve", Addr: serveAddr},
		promtest.Target{Job: "pushgateway", Addr: pg.Addr, HonorLabels: true},
	)

	served := servedDrill(ctx, t, m)
	t.Logf("served drill: %s, verdict %s %s (%s)", served.Phase, served.Verdict, served.Message, time.Since(started).Round(time.Millisecond))
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

	// promtool lints the exposition drill serve would serve.
	var buf bytes.Buffer
	mfs, err := reg.Gather()
	require.NoError(t, err)
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	require.Empty(t, promtest.CheckMetrics(t, buf.Bytes()), "promtool check metrics")
}

// serveMetrics serves reg at /metrics on a loopback port, as drill serve
// does, and returns its address.
func serveMetrics(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// servedDrill runs servedPlan in-process on the engine and the local
// sandbox and feeds m as a drill serve runner does.
func servedDrill(ctx context.Context, t *testing.T, m *metrics.Metrics) *report.Report {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "served.yaml")
	require.NoError(t, os.WriteFile(path, []byte(servedPlan), 0o600))
	plans, err := (&plan.Loader{}).Load(ctx, []string{path})
	require.NoError(t, err)
	p := plans[0]

	d, err := scheduler.Decide(p.DrillPlan, nil, time.Now())
	require.NoError(t, err)
	require.NotNil(t, d.Status.NextScheduleTime)
	m.SetPlan(p.Name, &p.Spec, d.Status.NextScheduleTime.Time)

	pf, err := local.New(local.Options{Sandbox: p.Spec.Target.Local, StateDir: filepath.Join(dir, "state"),
		ModelCacheDir: filepath.Join(dir, "models"), Env: []string{envAsDrill + "=1"}})
	require.NoError(t, err)
	eng, err := engine.New(engine.Options{JournalDir: filepath.Join(dir, "journal")})
	require.NoError(t, err)
	run, err := eng.Start(ctx, p, engine.RunOptions{Platform: pf, Trigger: v1alpha1.TriggerSchedule})
	require.NoError(t, err)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for live := true; live; {
		select {
		case <-run.Done():
			live = false
		case <-tick.C:
			m.RunUpdated(run.Snapshot())
		}
	}
	rep, err := run.Wait()
	require.NoError(t, err)
	m.RunFinished(rep)
	return rep
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
