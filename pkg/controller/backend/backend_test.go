package backend

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/reportarchive"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

var t0 = time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)

func plan(name string, edit func(*v1alpha1.DrillPlan)) *v1alpha1.DrillPlan {
	p := &v1alpha1.DrillPlan{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "recsys", UID: types.UID(name)},
		Spec: v1alpha1.DrillPlanSpec{Schedule: "0 3 * * *", Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes},
			Steps: []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}}},
	}
	if edit != nil {
		edit(p)
	}
	return p
}

func drillRun(name, planName string, created time.Time, phase v1alpha1.RunPhase, edit func(*v1alpha1.DrillRun)) *v1alpha1.DrillRun {
	r := &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "recsys", UID: types.UID(name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: planName}, Trigger: v1alpha1.TriggerSchedule},
	}
	r.Status.Phase = phase
	if phase.IsTerminal() {
		r.Status.Verdict = v1alpha1.VerdictPass
		if phase != v1alpha1.RunSucceeded {
			r.Status.Verdict = v1alpha1.VerdictFail
		}
	}
	if edit != nil {
		edit(r)
	}
	return r
}

type live map[types.UID]*report.Report

func (l live) Snapshot(uid types.UID) *report.Report { return l[uid] }

func newBackend(t *testing.T, l Live, objs ...client.Object) (*Backend, client.Client, *reportarchive.Archive) {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.DrillRun{}, &v1alpha1.DrillPlan{}).
		WithIndex(&v1alpha1.DrillRun{}, runs.RunsByPlan, runs.RunPlan).WithObjects(objs...).Build()
	a, err := local.New(t.TempDir())
	require.NoError(t, err)
	dir, err := reportarchive.New(a, t.TempDir(), archive.StoreOptions{})
	require.NoError(t, err)
	b, err := New(Options{Client: c, Scheme: scheme, Reports: dir, Live: l,
		ReportURL: func(ns, id, format string) string { return "/api/v1/runs/" + ns + "/" + id + "/report." + format }})
	require.NoError(t, err)
	return b, c, dir
}

func TestPlansAndRuns(t *testing.T) {
	nightly := plan("nightly", func(p *v1alpha1.DrillPlan) {
		p.Status.NextScheduleTime = &metav1.Time{Time: t0.Add(24 * time.Hour)}
		p.Status.LastRun = &v1alpha1.RunSummary{Name: "nightly-2"}
		p.Status.Active = []v1alpha1.RunReference{{Name: "nightly-2"}}
	})
	broken := plan("broken", func(p *v1alpha1.DrillPlan) {
		p.Spec.Suspend = true
		p.Status.NextScheduleTime = &metav1.Time{Time: t0}
		conditions.Stall(&p.Status.Conditions, "Invalid", "spec.steps: Required value", 1, t0)
	})
	objs := []client.Object{nightly, broken,
		drillRun("nightly-1", "nightly", t0, v1alpha1.RunSucceeded, func(r *v1alpha1.DrillRun) {
			r.Status.Report = &v1alpha1.ReportReference{Path: "/nowhere"}
			r.Status.StartTime = &metav1.MicroTime{Time: t0}
		}),
		drillRun("nightly-2", "nightly", t0.Add(24*time.Hour), v1alpha1.RunRunning, func(r *v1alpha1.DrillRun) { r.Status.CurrentStep = "drain" }),
		drillRun("other-1", "other", t0.Add(time.Hour), v1alpha1.RunFailed, nil),
		drillRun("queued", "nightly", t0.Add(48*time.Hour), "", func(r *v1alpha1.DrillRun) { r.Spec.Trigger = "" }),
	}
	b, _, _ := newBackend(t, nil, objs...)
	ctx := t.Context()

	plans, err := b.Plans(ctx)
	require.NoError(t, err)
	require.Len(t, plans, 2)
	require.Equal(t, "broken", plans[0].Name)
	require.True(t, plans[0].Suspend)
	require.Nil(t, plans[0].NextRun, "a suspended plan has no next run")
	require.Equal(t, "spec.steps: Required value", plans[0].Error)
	require.Equal(t, t0.Add(24*time.Hour), *plans[1].NextRun)
	require.Equal(t, "nightly-2", plans[1].LastRun.ID)
	require.Equal(t, "drain", plans[1].Active[0].CurrentStep)

	all, err := b.Runs(ctx, server.RunFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{"queued", "nightly-2", "other-1", "nightly-1"}, ids(all), "newest first")
	require.Equal(t, v1alpha1.RunPending, all[0].Phase, "a run not picked up yet is Pending")
	require.Equal(t, v1alpha1.TriggerManual, all[0].Trigger)
	require.Equal(t, "/api/v1/runs/recsys/nightly-1/report.json", all[3].Reports["json"])
	require.Equal(t, t0, *all[3].StartTime)

	tests := []struct {
		name string
		f    server.RunFilter
		want []string
	}{
		{name: "by plan", f: server.RunFilter{Namespace: "recsys", Plan: "nightly"}, want: []string{"queued", "nightly-2", "nightly-1"}},
		{name: "by verdict", f: server.RunFilter{Verdict: v1alpha1.VerdictFail}, want: []string{"other-1"}},
		{name: "by phase", f: server.RunFilter{Phase: v1alpha1.RunRunning}, want: []string{"nightly-2"}},
		{name: "limited", f: server.RunFilter{Limit: 2}, want: []string{"queued", "nightly-2"}},
		{name: "another namespace", f: server.RunFilter{Namespace: "elsewhere"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.Runs(ctx, tt.f)
			require.NoError(t, err)
			require.Equal(t, tt.want, ids(got))
		})
	}
}

func ids(rs []server.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestRunAndReport(t *testing.T) {
	running := drillRun("running", "nightly", t0, v1alpha1.RunRunning, nil)
	elsewhere := drillRun("elsewhere", "nightly", t0, v1alpha1.RunRunning, func(r *v1alpha1.DrillRun) { r.Status.CurrentStep = "kill" })
	done := drillRun("done", "nightly", t0, v1alpha1.RunSucceeded, nil)
	liveRep := &report.Report{RunID: "recsys.running"}
	liveRep.CurrentStep = "drain"
	b, c, dir := newBackend(t, live{"running": liveRep}, running, elsewhere, done)
	ctx := t.Context()

	// The archived report of a finished run.
	rep := &report.Report{Schema: report.SchemaVersion, RunID: "recsys.done", Plan: report.Plan{Name: "nightly"}}
	rep.Phase = v1alpha1.RunSucceeded
	ref, err := dir.Store(ctx, "recsys", rep)
	require.NoError(t, err)
	done.Status.Report = &ref
	require.NoError(t, c.Status().Update(ctx, done))

	_, got, err := b.Run(ctx, "recsys", "running")
	require.NoError(t, err)
	require.Same(t, liveRep, got, "a run in progress here is its live snapshot")
	_, got, err = b.Run(ctx, "recsys", "elsewhere")
	require.NoError(t, err)
	require.Equal(t, "kill", got.CurrentStep, "a run in progress elsewhere is its status")
	_, got, err = b.Run(ctx, "recsys", "done")
	require.NoError(t, err)
	require.Equal(t, "recsys.done", got.RunID)
	_, _, err = b.Run(ctx, "recsys", "missing")
	require.ErrorIs(t, err, server.ErrNotFound)

	data, err := b.Report(ctx, "recsys", "done", server.FormatMD)
	require.NoError(t, err)
	require.Contains(t, string(data), "nightly")
	data, err = b.Report(ctx, "recsys", "done", server.FormatHTML)
	require.NoError(t, err)
	require.Contains(t, string(data), "<html")
	_, err = b.Report(ctx, "recsys", "done", "pdf")
	require.ErrorIs(t, err, server.ErrNotFound)
	_, err = b.Report(ctx, "recsys", "running", server.FormatJSON)
	require.ErrorIs(t, err, server.ErrNotFound)
}

func TestTriggerAndAbort(t *testing.T) {
	allow := plan("allow", func(p *v1alpha1.DrillPlan) {
		p.Spec.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
		p.Spec.Safety.AllowConcurrentRuns = true
	})
	b, c, _ := newBackend(t, nil, plan("nightly", nil), allow,
		drillRun("nightly-1", "nightly", t0, v1alpha1.RunRunning, nil),
		drillRun("allow-1", "allow", t0, v1alpha1.RunRunning, nil),
		drillRun("nightly-0", "nightly", t0, v1alpha1.RunSucceeded, nil))
	ctx := t.Context()
	alice := server.User{Name: "alice"}

	_, err := b.Trigger(ctx, "recsys", "nightly", alice)
	require.ErrorIs(t, err, server.ErrConflict)
	require.ErrorContains(t, err, "nightly-1 (concurrencyPolicy Forbid)")
	_, err = b.Trigger(ctx, "recsys", "missing", alice)
	require.ErrorIs(t, err, server.ErrNotFound)

	got, err := b.Trigger(ctx, "recsys", "allow", alice)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.TriggerAPI, got.Trigger)
	var created v1alpha1.DrillRun
	require.NoError(t, c.Get(ctx, types.NamespacedName{Namespace: "recsys", Name: got.ID}, &created))
	require.Equal(t, "allow", created.Spec.PlanRef.Name)
	require.Equal(t, "alice", created.Annotations[runs.AnnotationRequestedBy])
	require.Equal(t, runs.Hash(allow), created.Spec.PlanHash)
	require.Equal(t, "allow", metav1.GetControllerOf(&created).Name)

	require.NoError(t, b.Abort(ctx, "recsys", "nightly-1", "the service is paging", alice))
	var aborted v1alpha1.DrillRun
	require.NoError(t, c.Get(ctx, types.NamespacedName{Namespace: "recsys", Name: "nightly-1"}, &aborted))
	require.True(t, aborted.Spec.Abort)
	require.Equal(t, "the service is paging (by alice)", aborted.Annotations[runs.AnnotationAbortReason])

	err = b.Abort(ctx, "recsys", "nightly-0", "", alice)
	require.ErrorIs(t, err, server.ErrConflict)
	require.ErrorContains(t, err, "already finished (Succeeded)")
	require.ErrorIs(t, b.Abort(ctx, "recsys", "missing", "", alice), server.ErrNotFound)
}
