package drillrun

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
)

const ns = "recsys"

var t0 = time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)

// fakeEngine records the drills it starts; each is a fakeDrill the test
// drives.
type fakeEngine struct {
	mu     sync.Mutex
	drills map[string]*fakeDrill
	plans  map[string]*plan.Plan
	opts   map[string]engine.RunOptions
	err    error
}

func (e *fakeEngine) Start(ctx context.Context, p *plan.Plan, ro engine.RunOptions) (Drill, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	d := &fakeDrill{ctx: ctx, done: make(chan struct{}), observer: ro.Observer,
		rep: &report.Report{Schema: report.SchemaVersion, RunID: ro.RunID, Plan: report.Plan{Name: p.Name, Spec: p.Spec}}}
	d.rep.Phase = v1alpha1.RunRunning
	d.rep.StartTime = micro(t0)
	e.drills[ro.RunID], e.plans[ro.RunID], e.opts[ro.RunID] = d, p, ro
	return d, nil
}

func (e *fakeEngine) drill(t *testing.T, runID string) *fakeDrill {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.drills[runID]
	require.NotNil(t, d, "drill %s started", runID)
	return d
}

// fakeDrill is a drill whose report the test sets.
type fakeDrill struct {
	ctx      context.Context //nolint:containedctx // the run's context, to check its cancellation.
	mu       sync.Mutex
	rep      *report.Report
	aborted  []string
	done     chan struct{}
	observer engine.Observer
}

func (d *fakeDrill) Snapshot() *report.Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := *d.rep
	c.RunResult = *d.rep.DeepCopy()
	return &c
}

func (d *fakeDrill) Abort(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.aborted = append(d.aborted, reason)
}

func (d *fakeDrill) Done() <-chan struct{} { return d.done }

func (d *fakeDrill) Wait() (*report.Report, error) {
	<-d.done
	return d.Snapshot(), nil
}

// step moves the drill to a step and tells the observer.
func (d *fakeDrill) step(name string) {
	d.mu.Lock()
	d.rep.CurrentStep = name
	d.rep.Steps = append(d.rep.Steps, v1alpha1.StepResult{Name: name, Phase: v1alpha1.RunRunning})
	d.mu.Unlock()
	d.observer(engine.Event{Type: engine.EventStep, Step: name})
}

// end finishes the drill in phase.
func (d *fakeDrill) end(phase v1alpha1.RunPhase, verdict v1alpha1.Verdict, msg string) {
	d.mu.Lock()
	d.rep.Phase, d.rep.Verdict, d.rep.Message, d.rep.CurrentStep = phase, verdict, msg, ""
	d.rep.CompletionTime = micro(t0.Add(time.Minute))
	d.mu.Unlock()
	close(d.done)
}

func (d *fakeDrill) abortReasons() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.aborted...)
}

// memArchive keeps reports in memory.
type memArchive struct {
	mu      sync.Mutex
	reports map[string]*report.Report
	err     error
}

func (a *memArchive) Store(_ context.Context, namespace string, rep *report.Report) (v1alpha1.ReportReference, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return v1alpha1.ReportReference{}, a.err
	}
	path := "/reports/" + namespace + "/" + rep.Plan.Name + "/" + rep.RunID
	a.reports[path] = rep
	return v1alpha1.ReportReference{Path: path}, nil
}

func (a *memArchive) get(path string) *report.Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reports[path]
}

// recoveringPlatform records Recover calls; every other call is
// platform.None's.
type recoveringPlatform struct {
	platform.None
	mu        sync.Mutex
	recovered []recoverCall
	err       error
}

type recoverCall struct {
	Fault   platform.Fault
	Targets []evidence.Target
}

func (p *recoveringPlatform) Name() string { return string(v1alpha1.PlatformKubernetes) }

func (p *recoveringPlatform) Recover(_ context.Context, f platform.Fault, targets []evidence.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recovered = append(p.recovered, recoverCall{f, targets})
	return p.err
}

// recordedActions records the actions run.
type recordedActions struct {
	mu  sync.Mutex
	ran []map[string]string
}

func (a *recordedActions) Run(_ context.Context, act *v1alpha1.Action, extra map[string]string) (action.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := map[string]string{"command": act.Command[0]}
	for k, v := range extra {
		rec[k] = v
	}
	a.ran = append(a.ran, rec)
	return action.Result{}, nil
}

// harness is a reconciler and runner on a fake client and a fake clock.
type harness struct {
	t        *testing.T
	c        client.WithWatch
	clock    *clocktesting.FakeClock
	engine   *fakeEngine
	archive  *memArchive
	pf       *recoveringPlatform
	actions  *recordedActions
	runner   *Runner
	r        *Reconciler
	patches  *patchCounter
	drills   *recordedDrills
	stopRun  context.CancelFunc
	runnerOK chan error
}

type patchCounter struct {
	mu sync.Mutex
	n  int
}

func (p *patchCounter) add() { p.mu.Lock(); p.n++; p.mu.Unlock() }
func (p *patchCounter) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func newHarness(t *testing.T, objs ...client.Object) *harness {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	h := &harness{t: t, clock: clocktesting.NewFakeClock(t0),
		engine:  &fakeEngine{drills: map[string]*fakeDrill{}, plans: map[string]*plan.Plan{}, opts: map[string]engine.RunOptions{}},
		archive: &memArchive{reports: map[string]*report.Report{}}, pf: &recoveringPlatform{}, actions: &recordedActions{},
		patches: &patchCounter{}, drills: &recordedDrills{}}
	h.c = fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1alpha1.DrillPlan{}, &v1alpha1.DrillRun{}).
		WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				h.patches.add()
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	var err error
	h.runner, err = NewRunner(RunnerOptions{Client: h.c, Engine: h.engine, Reports: h.archive, Identity: "replica-a", Clock: h.clock, Drills: h.drills})
	require.NoError(t, err)
	h.r = &Reconciler{Client: h.c, APIReader: h.c, Scheme: scheme, Clock: h.clock, Runner: h.runner, Actions: h.actions, Reports: h.archive, Identity: "replica-a", Drills: h.drills,
		Platforms: func(context.Context, *v1alpha1.DrillPlanSpec) (platform.Platform, error) { return h.pf, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopRun, h.runnerOK = cancel, make(chan error, 1)
	go func() { h.runnerOK <- h.runner.Start(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop stops the runner: every drill still going is aborted.
func (h *harness) stop() {
	h.stopRun()
	for _, d := range h.engine.drills {
		select {
		case <-d.done:
		default:
			d.end(v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, "stopped")
		}
	}
	<-h.runnerOK
}

func (h *harness) reconcile(name string) ctrl.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(h.t.Context(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	require.NoError(h.t, err)
	return res
}

func (h *harness) run(name string) *v1alpha1.DrillRun {
	h.t.Helper()
	var r v1alpha1.DrillRun
	require.NoError(h.t, h.c.Get(h.t.Context(), types.NamespacedName{Namespace: ns, Name: name}, &r))
	return &r
}

// eventually waits for cond on the run, for the runner's goroutines.
func (h *harness) eventually(name string, cond func(r *v1alpha1.DrillRun) bool, msg string) *v1alpha1.DrillRun {
	h.t.Helper()
	var last *v1alpha1.DrillRun
	require.Eventually(h.t, func() bool {
		last = h.run(name)
		return cond(last)
	}, 5*time.Second, 5*time.Millisecond, msg)
	return last
}

// validPlan is a DrillPlan on platform none with an exec fault.
func validPlan() *v1alpha1.DrillPlan {
	return &v1alpha1.DrillPlan{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns, UID: "plan-uid"},
		Spec: v1alpha1.DrillPlanSpec{
			Target: v1alpha1.Target{Platform: v1alpha1.PlatformNone},
			System: v1alpha1.System{Endpoint: "http://frontdoor.recsys.svc:8080"},
			Load:   v1alpha1.Load{Requests: []v1alpha1.RequestTemplate{{Path: "/healthz"}}},
			Steps: []v1alpha1.Step{
				{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}},
				{Name: "freeze", Fault: &v1alpha1.Fault{Exec: &v1alpha1.ExecFault{
					Inject: v1alpha1.Action{Command: []string{"freeze"}}, Revert: &v1alpha1.Action{Command: []string{"thaw"}}}}},
			},
		},
	}
}

func runOf(name string, edit func(*v1alpha1.DrillRun)) *v1alpha1.DrillRun {
	r := &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"), Generation: 1},
		Spec:       v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}, Trigger: v1alpha1.TriggerManual},
	}
	if edit != nil {
		edit(r)
	}
	return r
}

var errBoom = errors.New("boom")

func keyOf(name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

// staticReader answers every Get with one run.
type staticReader struct{ run *v1alpha1.DrillRun }

func (s staticReader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	s.run.DeepCopyInto(obj.(*v1alpha1.DrillRun))
	return nil
}

func (s staticReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("not implemented")
}

// recordedDrills records what the drill metrics are told: "<namespace>
// <run id> <phase>" per report.
type recordedDrills struct {
	mu                sync.Mutex
	updated, finished []string
}

func (d *recordedDrills) RunUpdated(namespace string, rep *report.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.updated = append(d.updated, namespace+" "+rep.RunID+" "+string(rep.Phase))
}

func (d *recordedDrills) RunFinished(namespace string, rep *report.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finished = append(d.finished, namespace+" "+rep.RunID+" "+string(rep.Phase))
}

func (d *recordedDrills) get() (updated, finished []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.updated), slices.Clone(d.finished)
}
