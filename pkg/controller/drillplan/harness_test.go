package drillplan

import (
	"context"
	"slices"
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

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

const ns = "recsys"

// harness runs the reconciler against a fake client and a fake clock.
// The fake client models no generation, resourceVersion races or
// validation; the e2e tests cover those on a real API server.
type harness struct {
	t       *testing.T
	c       client.WithWatch
	clock   *clocktesting.FakeClock
	r       *Reconciler
	reports *recordedReports
	drills  *recordedMetrics
}

// recordedReports records the reports the reconciler prunes.
type recordedReports struct{ deleted []string }

func (r *recordedReports) Delete(_ context.Context, run *v1alpha1.DrillRun) error {
	r.deleted = append(r.deleted, run.Status.Report.Path)
	return nil
}

// recordedMetrics records what the reconciler tells the drill metrics.
type recordedMetrics struct {
	next    map[string]time.Time
	specs   map[string]*v1alpha1.DrillPlanSpec
	deleted []string
}

func (m *recordedMetrics) SetPlan(namespace, name string, spec *v1alpha1.DrillPlanSpec, next time.Time) {
	if m.next == nil {
		m.next, m.specs = map[string]time.Time{}, map[string]*v1alpha1.DrillPlanSpec{}
	}
	m.next[namespace+"/"+name], m.specs[namespace+"/"+name] = next, spec
}

func (m *recordedMetrics) DeletePlan(namespace, name string) {
	m.deleted = append(m.deleted, namespace+"/"+name)
}

func newHarness(t *testing.T, now time.Time, funcs *interceptor.Funcs, objs ...client.Object) *harness {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	b := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1alpha1.DrillPlan{}, &v1alpha1.DrillRun{}).
		WithIndex(&v1alpha1.DrillRun{}, runs.RunsByPlan, runs.RunPlan).
		WithObjects(objs...)
	h := &harness{t: t, clock: clocktesting.NewFakeClock(now), reports: &recordedReports{}, drills: &recordedMetrics{}}
	if funcs == nil {
		funcs = &interceptor.Funcs{}
	}
	// The API server stamps creation; the fake client does not.
	create := funcs.Create
	funcs.Create = func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		obj.SetCreationTimestamp(metav1.NewTime(h.clock.Now()))
		if create != nil {
			return create(ctx, c, obj, opts...)
		}
		return c.Create(ctx, obj, opts...)
	}
	h.c = b.WithInterceptorFuncs(*funcs).Build()
	h.r = &Reconciler{Client: h.c, Scheme: scheme, Clock: h.clock, Reports: h.reports, Drills: h.drills}
	return h
}

// newPlan is a valid plan named nightly on platform none with schedule
// "0 3 * * *", after edits.
func newPlan(edits ...func(*v1alpha1.DrillPlanSpec)) *v1alpha1.DrillPlan {
	p := &v1alpha1.DrillPlan{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns, UID: "plan-uid", Generation: 1},
		Spec: v1alpha1.DrillPlanSpec{
			Schedule: "0 3 * * *",
			Target:   v1alpha1.Target{Platform: v1alpha1.PlatformNone},
			System:   v1alpha1.System{Endpoint: "http://frontdoor.recsys.svc:8080"},
			Load:     v1alpha1.Load{Requests: []v1alpha1.RequestTemplate{{Path: "/healthz"}}},
			Steps:    []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}},
		},
	}
	for _, e := range edits {
		e(&p.Spec)
	}
	return p
}

// reconcile reconciles the plan once at the clock's time.
func (h *harness) reconcile() ctrl.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(h.t.Context(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "nightly"}})
	require.NoError(h.t, err)
	return res
}

func (h *harness) plan() *v1alpha1.DrillPlan {
	h.t.Helper()
	var p v1alpha1.DrillPlan
	require.NoError(h.t, h.c.Get(h.t.Context(), types.NamespacedName{Namespace: ns, Name: "nightly"}, &p))
	return &p
}

func (h *harness) runs() map[string]*v1alpha1.DrillRun {
	h.t.Helper()
	var list v1alpha1.DrillRunList
	require.NoError(h.t, h.c.List(h.t.Context(), &list, client.InNamespace(ns)))
	out := map[string]*v1alpha1.DrillRun{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (h *harness) runNames() []string {
	h.t.Helper()
	var names []string
	for n := range h.runs() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// finish ends a run in phase at the clock's time, as the DrillRun
// reconciler would.
func (h *harness) finish(name string, phase v1alpha1.RunPhase) {
	h.t.Helper()
	h.setPhase(name, phase)
}

func (h *harness) setPhase(name string, phase v1alpha1.RunPhase) {
	h.t.Helper()
	r := h.runs()[name]
	require.NotNil(h.t, r, "run %s", name)
	r.Status.Phase = phase
	now := metav1.NewMicroTime(h.clock.Now())
	if r.Status.StartTime == nil {
		r.Status.StartTime = &now
	}
	if phase.IsTerminal() {
		r.Status.CompletionTime = &now
		r.Status.Report = &v1alpha1.ReportReference{Path: "/reports/" + name}
	}
	require.NoError(h.t, h.c.Status().Update(h.t.Context(), r))
}

// at moves the clock to t.
func (h *harness) at(t time.Time) { h.clock.SetTime(t) }

func reqFor(name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
}
