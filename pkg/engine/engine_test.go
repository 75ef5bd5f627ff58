package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
)

// sut is a system under test whose outages the test controls exactly:
// POST /control/down?for=D makes it answer 503 for D from the moment the
// request is handled; /control/slow?for=D&latency=L slows it down.
type sut struct {
	t         *testing.T
	url       string
	downUntil atomic.Int64
	slowUntil atomic.Int64
	slowBy    atomic.Int64
	mu        sync.Mutex
	outages   []time.Time // start instants, as handled
	hits      atomic.Int64
}

func newSUT(t *testing.T) *sut {
	t.Helper()
	s := &sut{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("/control/down", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		s.downUntil.Store(now.Add(d).UnixNano())
		s.mu.Lock()
		s.outages = append(s.outages, now)
		s.mu.Unlock()
	})
	mux.HandleFunc("/control/up", func(http.ResponseWriter, *http.Request) { s.downUntil.Store(0) })
	mux.HandleFunc("/control/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("for"))
		l, _ := time.ParseDuration(r.URL.Query().Get("latency"))
		s.slowBy.Store(int64(l))
		s.slowUntil.Store(time.Now().Add(d).UnixNano())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		now := time.Now().UnixNano()
		if now < s.downUntil.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if now < s.slowUntil.Load() {
			time.Sleep(time.Duration(s.slowBy.Load()))
		}
		_, _ = w.Write([]byte("ok"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s
}

func loadPlan(t *testing.T, text string) *plan.Plan {
	t.Helper()
	plans, problems := (&plan.Loader{}).LoadBytes("test.yaml", []byte(text))
	require.Empty(t, problems)
	require.Len(t, plans, 1)
	return plans[0]
}

// planFor builds a plan against s with the given steps (YAML, indented
// under steps:) and extra spec YAML.
func planFor(s *sut, extra, steps string) string {
	return fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: accuracy}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load:
    rate: 50
    timeout: 300ms
    requests: [{name: root, path: /}]
  objectives:
    rto: 30s
    availability: "10"
    latencyP99: 250ms
    recovered: {successRate: "99", latencyP99: 250ms, for: 1s}
%s  steps:
%s`, s.url, extra, steps)
}

func newEngine(t *testing.T, p platform.Platform) (*Engine, string) {
	t.Helper()
	dir := t.TempDir()
	e, err := New(Options{Platform: p, JournalDir: dir, Tick: 20 * time.Millisecond})
	require.NoError(t, err)
	return e, dir
}

// TestServiceRTOAccuracy holds the promise users pay for: the measured
// service RTO of a full outage matches the true outage within
// max(2 probe intervals, 50 ms) at the default rate.
func TestServiceRTOAccuracy(t *testing.T) {
	outages := []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second}
	if os.Getenv("FIREDRILL_LONG_TESTS") != "" {
		outages = append(outages, 20*time.Second)
	}
	tolerance := max(2*(time.Second/50), 50*time.Millisecond)
	for _, outage := range outages {
		t.Run(fmt.Sprintf("a %s outage", outage), func(t *testing.T) {
			s := newSUT(t)
			p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 1s}
    - name: outage
      fault:
        exec:
          inject: {webhook: {url: "%s/control/down?for=%s", method: POST}}
`, s.url, outage)))
			e, _ := newEngine(t, platform.None{})
			rep, err := e.Run(context.Background(), p)
			require.NoError(t, err)
			require.Equal(t, v1alpha1.RunSucceeded, rep.Phase, rep.Message)
			f := rep.Steps[1].Fault
			require.NotNil(t, f)
			require.NotNil(t, f.Result.ServiceRTO, "the outage must be measured")
			got := *f.Result.ServiceRTO
			require.InDelta(t, float64(outage), float64(got), float64(tolerance),
				"measured service RTO %s for a true outage of %s", got, outage)
			require.NotNil(t, f.Result.Instants.Impact)
			require.NotNil(t, f.Result.Instants.Serving)
			t.Logf("true outage %s, measured service RTO %s (error %s)", outage, got, got-outage)
		})
	}
}

func TestLatencyDegradationIsMeasured(t *testing.T) {
	s := newSUT(t)
	p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 1s}
    - name: slow
      fault:
        exec:
          inject: {webhook: {url: "%s/control/slow?for=2s&latency=150ms", method: POST}}
`, s.url)))
	p.Spec.Objectives.Recovered.LatencyP99.Duration = 50 * time.Millisecond
	e, _ := newEngine(t, platform.None{})
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	f := rep.Steps[1].Fault
	require.NotNil(t, f.Result.ServiceRTO)
	require.InDelta(t, float64(2*time.Second), float64(*f.Result.ServiceRTO), float64(200*time.Millisecond))
	require.Greater(t, f.Result.During.P99, 100*time.Millisecond, "the slow requests are in the fault window")
}

// TestRevertAndJournal checks that a command fault is reverted, its
// actions recorded and its journal closed.
func TestRevertAndJournal(t *testing.T) {
	s := newSUT(t)
	marker := filepath.Join(t.TempDir(), "fault-active")
	p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 500ms}
    - name: flag
      fault:
        duration: 500ms
        exec:
          inject: {command: [touch, %q]}
          revert: {command: [rm, %q]}
`, marker, marker)))
	e, dir := newEngine(t, platform.None{})
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunSucceeded, rep.Phase, rep.Message)
	require.NoFileExists(t, marker, "the fault is reverted")
	f := rep.Steps[1].Fault
	require.Len(t, f.Actions, 2)
	require.Equal(t, "inject", f.Actions[0].Phase)
	require.Equal(t, "revert", f.Actions[1].Phase)
	require.NotNil(t, f.Reverted)
	require.GreaterOrEqual(t, f.Reverted.Sub(f.Injected), 500*time.Millisecond, "a timed fault stays for its duration")
	require.NotNil(t, f.AfterRevert)
	recs, err := journal.Load(dir)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Empty(t, recs[0].Unfinished())
	require.NotNil(t, recs[0].Finished)
	require.Equal(t, 0, rep.ExitCode())
}

func TestAbortRevertsAndReports(t *testing.T) {
	s := newSUT(t)
	p := loadPlan(t, strings.Replace(planFor(s, `  abort: {availabilityBelow: "50", window: 1s}
`, fmt.Sprintf(`    - {name: baseline, wait: 500ms}
    - name: outage
      fault:
        exec:
          inject: {webhook: {url: "%s/control/down?for=60s"}}
          revert: {webhook: {url: "%s/control/up"}}
`, s.url, s.url)), "    availability: \"10\"\n", "", 1))
	e, _ := newEngine(t, platform.None{})
	start := time.Now()
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 20*time.Second, "the abort must not wait for the step timeout")
	require.Equal(t, v1alpha1.RunAborted, rep.Phase)
	require.Contains(t, rep.Message, "fell below abort.availabilityBelow")
	require.Zero(t, s.downUntil.Load(), "an abort reverts every active fault")
	require.Equal(t, 2, rep.ExitCode())
	require.NotNil(t, rep.Steps[1].Fault.Reverted)
}

func TestCancellationRevertsAndReports(t *testing.T) {
	s := newSUT(t)
	marker := filepath.Join(t.TempDir(), "fault-active")
	p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 500ms}
    - name: flag
      fault:
        duration: 1m
        exec:
          inject: {command: [touch, %q]}
          revert: {command: [rm, %q]}
`, marker, marker)))
	e, _ := newEngine(t, platform.None{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if _, err := os.Stat(marker); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	rep, err := e.Run(ctx, p)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, rep.Phase)
	require.Contains(t, rep.Message, "interrupted")
	require.NoFileExists(t, marker)
	dir := t.TempDir()
	out, err := report.Write(dir, rep)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "report.json"), "an aborted run still writes its report")
}

func TestSteadyStateRequiredBeforeFaults(t *testing.T) {
	s := newSUT(t)
	s.downUntil.Store(time.Now().Add(time.Hour).UnixNano()) // down before the drill starts
	marker := filepath.Join(t.TempDir(), "fault-active")
	p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 500ms}
    - name: flag
      fault:
        exec:
          inject: {command: [touch, %q]}
`, marker)))
	e, _ := newEngine(t, platform.None{})
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunError, rep.Phase)
	require.Contains(t, rep.Message, "did not meet its objectives before the first fault")
	require.NoFileExists(t, marker, "no fault is injected into a sick system")
	require.False(t, rep.Baseline.Pass)
	require.Equal(t, 2, rep.ExitCode())
}

func TestFailedInjectionAborts(t *testing.T) {
	s := newSUT(t)
	p := loadPlan(t, planFor(s, "", `    - {name: baseline, wait: 300ms}
    - name: broken
      fault:
        exec:
          inject: {command: [sh, -c, "echo cannot reach the DNS API >&2; exit 7"]}
    - {name: never, wait: 1m}
`))
	e, _ := newEngine(t, platform.None{})
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, rep.Phase)
	require.Contains(t, rep.Steps[1].Fault.Error, "cannot reach the DNS API")
	require.Equal(t, v1alpha1.RunPending, rep.Steps[2].Phase, "later steps do not run")
}

func TestCleanupRevertsWhatADeadRunLeft(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "fault-active")
	require.NoError(t, os.WriteFile(marker, nil, 0o644))
	spec := v1alpha1.Fault{Exec: &v1alpha1.ExecFault{
		Inject: v1alpha1.Action{Command: []string{"touch", marker}},
		Revert: &v1alpha1.Action{Command: []string{"rm", marker}},
	}}
	j, err := journal.Create(dir, journal.Record{RunID: "dead-run", Plan: "p", Platform: "none",
		Owner: journal.Owner{PID: 999999, StartTicks: 1}, Started: time.Now()}, nil)
	require.NoError(t, err)
	require.NoError(t, j.Begin("flag", spec, []platform.Target{{Kind: "action", Name: "flag"}}))
	require.NoError(t, j.Set("flag", journal.Active, ""))

	_, err = journal.Create(dir, journal.Record{RunID: "live-run", Plan: "p", Platform: "none", Started: time.Now()}, nil)
	require.NoError(t, err)

	left, err := Cleanup(context.Background(), CleanupOptions{JournalDir: dir, DryRun: true})
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.FileExists(t, marker, "a dry run touches nothing")

	left, err = Cleanup(context.Background(), CleanupOptions{JournalDir: dir})
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.True(t, left[0].Reverted)
	require.NoFileExists(t, marker)
	require.True(t, strings.HasPrefix(left[0].String(), "run dead-run, step flag (exec on action/flag): reverted"))

	left, err = Cleanup(context.Background(), CleanupOptions{JournalDir: dir})
	require.NoError(t, err)
	require.Empty(t, left, "cleanup is idempotent")
}
