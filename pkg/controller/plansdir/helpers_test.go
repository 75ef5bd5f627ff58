package plansdir_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/history"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/slo"
)

// t0 is when the tests' fake clock starts: a whole minute.
var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// fakeDrill is a drill that runs until the test finishes or aborts it.
type fakeDrill struct {
	id      string
	plan    string
	trigger v1alpha1.Trigger
	clk     *testingclock.FakeClock
	start   time.Time
	done    chan struct{}

	mu      sync.Mutex
	aborted string
	final   *report.Report
}

func (d *fakeDrill) report(phase v1alpha1.RunPhase, verdict v1alpha1.Verdict, msg string) *report.Report {
	s := metav1.NewMicroTime(d.start)
	r := &report.Report{Schema: report.SchemaVersion, RunID: d.id, Plan: report.Plan{Name: d.plan}, Trigger: d.trigger, Series: []slo.Point{}}
	r.Phase, r.Verdict, r.Message, r.StartTime = phase, verdict, msg, &s
	if phase.IsTerminal() {
		e := metav1.NewMicroTime(d.clk.Now())
		r.CompletionTime = &e
	}
	return r
}

func (d *fakeDrill) Snapshot() *report.Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.final != nil {
		return d.final
	}
	return d.report(v1alpha1.RunRunning, "", "")
}

// end finishes the drill once.
func (d *fakeDrill) end(phase v1alpha1.RunPhase, verdict v1alpha1.Verdict, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.final != nil {
		return
	}
	d.final = d.report(phase, verdict, msg)
	close(d.done)
}

func (d *fakeDrill) Abort(reason string) {
	d.mu.Lock()
	d.aborted = reason
	d.mu.Unlock()
	d.end(v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, reason+"; every active fault was reverted")
}

func (d *fakeDrill) Done() <-chan struct{} { return d.done }

func (d *fakeDrill) Wait() (*report.Report, error) {
	<-d.done
	return d.final, nil
}

// fakeEngine starts fake drills and remembers them.
type fakeEngine struct {
	clk *testingclock.FakeClock

	mu     sync.Mutex
	drills []*fakeDrill
	refuse error
}

func (e *fakeEngine) start(_ context.Context, p *plan.Plan, ro engine.RunOptions) (plansdir.Drill, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuse != nil {
		return nil, e.refuse
	}
	d := &fakeDrill{id: ro.RunID, plan: p.Name, trigger: ro.Trigger, clk: e.clk, start: e.clk.Now(), done: make(chan struct{})}
	e.drills = append(e.drills, d)
	return d, nil
}

// started lists the ids of the drills started, in order.
func (e *fakeEngine) started() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, d := range e.drills {
		out = append(out, d.id)
	}
	return out
}

func (e *fakeEngine) drill(id string) *fakeDrill {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.drills {
		if d.id == id {
			return d
		}
	}
	return nil
}

// recorder records what the runner tells its observer.
type recorder struct {
	mu       sync.Mutex
	reasons  map[string][]scheduler.Reason
	status   map[string]v1alpha1.ScheduleStatus
	finished []string
	removed  []string
	updated  []string
}

func (o *recorder) Decided(p *plan.Plan, d scheduler.Decision) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reasons == nil {
		o.reasons, o.status = map[string][]scheduler.Reason{}, map[string]v1alpha1.ScheduleStatus{}
	}
	o.reasons[p.Name] = append(o.reasons[p.Name], d.Reason)
	o.status[p.Name] = d.Status
}

func (o *recorder) PlanRemoved(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.removed = append(o.removed, name)
}

func (o *recorder) RunUpdated(rep *report.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.updated = append(o.updated, rep.RunID)
}

// last is the last decision's reason and status for a plan.
func (o *recorder) last(plan string) (scheduler.Reason, v1alpha1.ScheduleStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rs := o.reasons[plan]
	if len(rs) == 0 {
		return "", v1alpha1.ScheduleStatus{}
	}
	return rs[len(rs)-1], o.status[plan]
}

func (o *recorder) RunFinished(rep *report.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, rep.RunID+" "+string(rep.Phase))
}

func (o *recorder) removedPlans() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.removed)
}

func (o *recorder) runsUpdated() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.updated)
}

func (o *recorder) runsFinished() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.finished)
}

// harness is a runner on a plans directory, a state directory and a
// report directory, with a fake clock and a fake engine.
type harness struct {
	t                     *testing.T
	plans, state, reports string
	clk                   *testingclock.FakeClock
	eng                   *fakeEngine
	obs                   *recorder
	r                     *plansdir.Runner
	hist                  *history.History
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	return &harness{t: t, plans: t.TempDir(), state: t.TempDir(), reports: t.TempDir(), clk: clk, eng: &fakeEngine{clk: clk}}
}

// start starts a runner on the harness's directories.
func (h *harness) start() {
	h.t.Helper()
	require.NoError(h.t, h.startErr())
}

func (h *harness) startErr() error {
	h.t.Helper()
	a, err := local.New(h.reports)
	require.NoError(h.t, err)
	hist, err := history.Open(h.t.Context(), history.Options{Archive: a, KeepDir: filepath.Join(h.state, "reports"), Clock: h.clk})
	require.NoError(h.t, err)
	h.hist, h.obs = hist, &recorder{}
	r, err := plansdir.New(plansdir.Options{
		Dir: h.plans, StateDir: filepath.Join(h.state, "serve"), JournalDir: filepath.Join(h.state, "journal"),
		History: hist, Start: h.eng.start, Clock: h.clk, Observer: h.obs, ReloadDelay: time.Millisecond,
		Platforms: func(context.Context, *v1alpha1.DrillPlanSpec) (platform.Platform, error) { return platform.None{}, nil },
	})
	require.NoError(h.t, err)
	if err := r.Start(h.t.Context()); err != nil {
		return err
	}
	h.r = r
	h.t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return nil
}

// stop stops the runner.
func (h *harness) stop() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(h.t, h.r.Stop(ctx))
}

// write writes a plan file.
func (h *harness) write(file, content string) {
	h.t.Helper()
	require.NoError(h.t, os.WriteFile(filepath.Join(h.plans, file), []byte(content), 0o644))
}

// eventually steps the clock by step until cond holds.
func (h *harness) eventually(step time.Duration, cond func() bool, msg string, args ...any) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		if cond() {
			return true
		}
		h.clk.Step(step)
		return cond()
	}, 10*time.Second, 5*time.Millisecond, append([]any{msg}, args...)...)
}

// planOf returns a plan as the API lists it.
func (h *harness) planOf(name string) server.Plan {
	h.t.Helper()
	plans, err := h.r.Plans(h.t.Context())
	require.NoError(h.t, err)
	for _, p := range plans {
		if p.Name == name {
			return p
		}
	}
	h.t.Fatalf("no plan %s in %v", name, plans)
	return server.Plan{}
}

// runs lists the runs the API lists, "id phase", newest first.
func (h *harness) runs(f server.RunFilter) []string {
	h.t.Helper()
	runs, err := h.r.Runs(h.t.Context(), f)
	require.NoError(h.t, err)
	var out []string
	for _, r := range runs {
		out = append(out, r.ID+" "+string(r.Phase))
	}
	return out
}

// planYAML is a plan on platform none with a schedule and extra spec
// lines.
func planYAML(name, schedule string, extra ...string) string {
	s := fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: none}
  system: {endpoint: "http://127.0.0.1:1"}
  load: {rate: 10, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 1s}}
  steps:
    - {name: baseline, wait: 1s}
`, name)
	if schedule != "" {
		s += fmt.Sprintf("  schedule: %q\n", schedule)
	}
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}
