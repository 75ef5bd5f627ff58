package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
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

func newEngine(t *testing.T) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	e, err := engine.New(engine.Options{JournalDir: dir, Tick: 20 * time.Millisecond})
	require.NoError(t, err)
	return e, dir
}

func run(ctx context.Context, t *testing.T, e *engine.Engine, p *plan.Plan) *report.Report {
	t.Helper()
	rep, err := e.Run(ctx, p, engine.RunOptions{Platform: platform.None{}})
	require.NoError(t, err)
	return rep
}

// TestServiceRTOAccuracy holds the promise users pay for: through the
// whole engine, on the wall clock, the measured service RTO of an outage
// matches the true outage within 25 ms at 50 requests/s, for 503s,
// latency-only degradations and runbook commands that themselves take
// 200 ms before they return.
func TestServiceRTOAccuracy(t *testing.T) {
	outages := []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second}
	const tolerance = 25 * time.Millisecond
	kinds := []struct {
		name   string
		inject func(s *sut, d time.Duration) string
	}{
		{"503s", func(s *sut, d time.Duration) string {
			return fmt.Sprintf(`{webhook: {url: "%s/control/down?for=%s", method: POST}}`, s.url, d)
		}},
		{"latency only", func(s *sut, d time.Duration) string {
			return fmt.Sprintf(`{webhook: {url: "%s/control/slow?for=%s&latency=400ms", method: POST}}`, s.url, d)
		}},
		{"a 200 ms runbook command", func(s *sut, d time.Duration) string {
			return fmt.Sprintf(`{command: [sh, -c, "curl -fsS -X POST '%s/control/down?for=%s' && sleep 0.2"]}`, s.url, d)
		}},
	}
	for _, kind := range kinds {
		for _, outage := range outages {
			t.Run(fmt.Sprintf("%s for %s", kind.name, outage), func(t *testing.T) {
				s := newSUT(t)
				p := loadPlan(t, planFor(s, "", fmt.Sprintf(`    - {name: baseline, wait: 1s}
    - name: outage
      fault:
        exec:
          inject: %s
`, kind.inject(s, outage))))
				e, _ := newEngine(t)
				rep := run(context.Background(), t, e, p)
				fo := rep.Steps[1].Fault.Failover
				require.NotNil(t, fo.ServiceRTO, "the outage must be measured: %v", fo.Notes)
				got := fo.ServiceRTO.Duration
				t.Logf("true outage %s, measured service RTO %s (error %s)", outage, got, got-outage)
				require.InDelta(t, float64(outage), float64(got), float64(tolerance),
					"measured service RTO %s for a true outage of %s", got, outage)
				require.NotNil(t, fo.Instants.Impact)
			})
		}
	}
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
	e, dir := newEngine(t)
	rep := run(context.Background(), t, e, p)
	require.Equal(t, v1alpha1.RunSucceeded, rep.Phase, rep.Message)
	require.NoFileExists(t, marker, "the fault is reverted")
	f := rep.Steps[1].Fault
	require.Len(t, f.Actions, 2)
	require.Equal(t, "inject", f.Actions[0].Phase)
	require.Equal(t, "revert", f.Actions[1].Phase)
	require.NotNil(t, f.Reverted)
	require.GreaterOrEqual(t, f.Reverted.Sub(f.Injected.Time), 500*time.Millisecond, "a timed fault stays for its duration")
	require.NotNil(t, f.Failback)
	recs, err := journal.Load(dir)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Empty(t, recs[0].Unfinished())
	require.NotNil(t, recs[0].Finished)
	require.Equal(t, 0, rep.ExitCode())
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
	e, _ := newEngine(t)
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
	rep := run(ctx, t, e, p)
	require.Equal(t, v1alpha1.RunAborted, rep.Phase)
	require.Contains(t, rep.Message, "interrupted")
	require.NoFileExists(t, marker)
	dir := t.TempDir()
	out, err := report.Write(dir, rep)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "report.json"), "an aborted run still writes its report")
}

// TestTwoRunsAtOnce runs two drills in one process, as drill serve does:
// each has its own journal, report and cancellation.
func TestTwoRunsAtOnce(t *testing.T) {
	a, b := newSUT(t), newSUT(t)
	steps := func(s *sut) string {
		return fmt.Sprintf(`    - {name: baseline, wait: 1s}
    - name: outage
      fault:
        duration: 1m
        exec:
          inject: {webhook: {url: "%s/control/down?for=1h", method: POST}}
          revert: {webhook: {url: "%s/control/up", method: POST}}
`, s.url, s.url)
	}
	pa, pb := loadPlan(t, planFor(a, "", steps(a))), loadPlan(t, planFor(b, "", steps(b)))
	pb.Name = "accuracy-b"
	e, dir := newEngine(t)
	ra, err := e.Start(context.Background(), pa, engine.RunOptions{Platform: platform.None{}})
	require.NoError(t, err)
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	rb, err := e.Start(ctxB, pb, engine.RunOptions{Platform: platform.None{}})
	require.NoError(t, err)
	require.NotEqual(t, ra.ID(), rb.ID())
	require.Eventually(t, func() bool { return a.downUntil.Load() != 0 && b.downUntil.Load() != 0 }, 20*time.Second, 10*time.Millisecond, "both faults are in effect")

	cancelB() // only b stops
	repB, err := rb.Wait()
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, repB.Phase)
	require.Zero(t, b.downUntil.Load(), "b's fault is reverted")
	require.NotZero(t, a.downUntil.Load(), "a's fault is still in effect")
	require.Equal(t, v1alpha1.RunRunning, ra.Snapshot().Phase)

	ra.Abort("the operator stopped it")
	repA, err := ra.Wait()
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, repA.Phase)
	require.Equal(t, "interrupted: the operator stopped it; every active fault was reverted", repA.Message)
	require.Zero(t, a.downUntil.Load())

	recs, err := journal.Load(dir)
	require.NoError(t, err)
	require.Len(t, recs, 2, "one journal per run")
	for _, rec := range recs {
		require.Empty(t, rec.Unfinished())
	}
	reports := t.TempDir()
	da, err := report.Write(reports, repA)
	require.NoError(t, err)
	db, err := report.Write(reports, repB)
	require.NoError(t, err)
	require.NotEqual(t, da, db, "one report directory per run")
}
