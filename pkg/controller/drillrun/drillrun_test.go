package drillrun

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

func condition(t *testing.T, r *v1alpha1.DrillRun, typ string) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(r.Status.Conditions, typ)
	require.NotNil(t, c, "condition %s in %v", typ, r.Status.Conditions)
	return c
}

func TestARunIsClaimedRunAndFinished(t *testing.T) {
	p := validPlan()
	h := newHarness(t, p, runOf("run1", func(r *v1alpha1.DrillRun) { r.Spec.PlanHash = runs.Hash(p) }))
	require.Zero(t, h.reconcile("run1"))

	// Claimed: the finalizer, Running on this replica with the plan.
	run := h.run("run1")
	require.True(t, controllerutil.ContainsFinalizer(run, Finalizer))
	require.Equal(t, v1alpha1.RunRunning, run.Status.Phase)
	require.Equal(t, "replica-a", run.Status.Runner)
	require.NotNil(t, run.Status.PlanSpec)
	require.Equal(t, "freeze", run.Status.PlanSpec.Steps[1].Name)
	require.Equal(t, int64(1), run.Status.ObservedGeneration)
	require.Equal(t, metav1.ConditionTrue, condition(t, run, conditions.Reconciling).Status)
	require.True(t, h.runner.Has(run.UID))

	d := h.engine.drill(t, "recsys.run1")
	require.Equal(t, v1alpha1.TriggerManual, h.engine.opts["recsys.run1"].Trigger)
	require.Equal(t, "drillplan/recsys/nightly", h.engine.plans["recsys.run1"].Source)

	// A step change is written at once, without waiting for the interval.
	d.step("baseline")
	run = h.eventually("run1", func(r *v1alpha1.DrillRun) bool { return r.Status.CurrentStep == "baseline" }, "the step is written on its change")
	require.Equal(t, "running step baseline", condition(t, run, conditions.Reconciling).Message)

	// Reconciling again while it runs changes nothing.
	require.Zero(t, h.reconcile("run1"))

	d.end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
	run = h.eventually("run1", func(r *v1alpha1.DrillRun) bool {
		return r.Status.Phase == v1alpha1.RunSucceeded && len(r.Finalizers) == 0
	},
		"the final status is written and the finalizer released")
	require.Equal(t, v1alpha1.VerdictPass, run.Status.Verdict)
	require.Nil(t, run.Status.PlanSpec, "the stored plan goes with the end of the run")
	require.Equal(t, "/reports/recsys/nightly/recsys.run1", run.Status.Report.Path)
	require.NotNil(t, h.archive.get(run.Status.Report.Path))
	require.Eventually(t, func() bool { _, finished := h.drills.get(); return len(finished) > 0 }, time.Second, 5*time.Millisecond)
	updated, finished := h.drills.get()
	require.Contains(t, updated, "recsys recsys.run1 Running", "the drill metrics get the live report at each status write")
	require.Equal(t, []string{"recsys recsys.run1 Succeeded"}, finished, "and the final one once")
	ready := condition(t, run, conditions.Ready)
	require.Equal(t, metav1.ConditionTrue, ready.Status)
	require.Equal(t, "Succeeded", ready.Reason)
	require.Nil(t, meta.FindStatusCondition(run.Status.Conditions, conditions.Reconciling))
	require.Eventually(t, func() bool { return !h.runner.Has(run.UID) }, time.Second, 5*time.Millisecond)

	// The cache may still show it Running for a moment: it is not mistaken
	// for an interrupted run.
	stale := run.DeepCopy()
	stale.Status.Phase = v1alpha1.RunRunning
	require.NoError(t, h.c.Status().Update(t.Context(), stale))
	require.Equal(t, time.Second, h.reconcile("run1").RequeueAfter)
	require.Empty(t, h.pf.recovered)
}

func TestStatusWritesAreBounded(t *testing.T) {
	h := newHarness(t, validPlan(), runOf("run1", nil))
	h.reconcile("run1")
	d := h.engine.drill(t, "recsys.run1")
	d.step("baseline")
	h.eventually("run1", func(r *v1alpha1.DrillRun) bool { return r.Status.CurrentStep == "baseline" }, "step written")

	// Between milestones the status is written on the interval only, and
	// only when it changed.
	before := h.patches.get()
	d.mu.Lock()
	d.rep.Steps[0].Message = "measured something"
	d.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, before, h.patches.get(), "no write before the interval")
	h.clock.Step(DefaultStatusInterval)
	h.eventually("run1", func(r *v1alpha1.DrillRun) bool { return r.Status.Steps[0].Message == "measured something" }, "written on the interval")
	after := h.patches.get()
	require.Equal(t, before+1, after)
	h.clock.Step(DefaultStatusInterval)
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, after, h.patches.get(), "an unchanged status is not written again")
}

func TestAbort(t *testing.T) {
	t.Run("spec.abort on a running drill aborts it with the reason asked for", func(t *testing.T) {
		h := newHarness(t, validPlan(), runOf("run1", nil))
		h.reconcile("run1")
		_, err := runs.RequestAbort(t.Context(), h.c, keyOf("run1"), "freeze went too far (by alice)")
		require.NoError(t, err)
		run := h.run("run1")
		run.Generation = 2 // the fake client does not bump it
		require.NoError(t, h.c.Update(t.Context(), run))
		h.reconcile("run1")
		d := h.engine.drill(t, "recsys.run1")
		require.Equal(t, []string{"aborted on request (freeze went too far (by alice))"}, d.abortReasons())
		run = h.eventually("run1", func(r *v1alpha1.DrillRun) bool {
			c := meta.FindStatusCondition(r.Status.Conditions, conditions.Reconciling)
			return c != nil && c.Reason == ReasonAborting
		}, "the status says it is aborting")
		require.Equal(t, int64(2), run.Status.ObservedGeneration)
		h.reconcile("run1")
		require.Len(t, d.abortReasons(), 1, "aborting twice is asked once")
	})
	t.Run("spec.abort on a run that has not started ends it Aborted, touching nothing", func(t *testing.T) {
		h := newHarness(t, validPlan(), runOf("run1", func(r *v1alpha1.DrillRun) { r.Spec.Abort = true }))
		h.reconcile("run1")
		run := h.run("run1")
		require.Equal(t, v1alpha1.RunAborted, run.Status.Phase)
		require.Equal(t, v1alpha1.VerdictNotJudged, run.Status.Verdict)
		require.Contains(t, run.Status.Message, "aborted before it started")
		require.Empty(t, h.engine.drills)
	})
	t.Run("deleting a running DrillRun aborts its drill and keeps it until the drill ended", func(t *testing.T) {
		h := newHarness(t, validPlan(), runOf("run1", nil))
		h.reconcile("run1")
		require.NoError(t, h.c.Delete(t.Context(), h.run("run1")))
		require.False(t, h.run("run1").DeletionTimestamp.IsZero(), "the finalizer holds it")
		h.reconcile("run1")
		d := h.engine.drill(t, "recsys.run1")
		require.Equal(t, []string{"the DrillRun is being deleted"}, d.abortReasons())
		d.end(v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, "the DrillRun is being deleted; every active fault was reverted")
		require.Eventually(t, func() bool {
			var list v1alpha1.DrillRunList
			require.NoError(t, h.c.List(context.Background(), &list))
			return len(list.Items) == 0
		}, 5*time.Second, 5*time.Millisecond, "released once the drill ended, the run goes")
	})
}

func TestRunsThatCannotStartEndError(t *testing.T) {
	p := validPlan()
	local := validPlan()
	local.Name = "local"
	local.Spec.Target.Platform = v1alpha1.PlatformLocal
	local.Spec.System.Endpoint = ""
	tests := []struct {
		name string
		run  *v1alpha1.DrillRun
		msg  string
	}{
		{name: "its plan does not exist", run: runOf("run1", func(r *v1alpha1.DrillRun) { r.Spec.PlanRef.Name = "missing" }),
			msg: "plan missing not found in namespace recsys"},
		{name: "its plan changed since it was created", run: runOf("run1", func(r *v1alpha1.DrillRun) { r.Spec.PlanHash = "0123456789abcdef" + runs.Hash(p)[16:] }),
			msg: "plan nightly changed since the run was created"},
		{name: "its plan targets the local sandbox", run: runOf("run1", func(r *v1alpha1.DrillRun) { r.Spec.PlanRef.Name = "local" }),
			msg: "target.platform local"},
		{name: "its inline plan is invalid", run: runOf("run1", func(r *v1alpha1.DrillRun) {
			r.Spec.PlanRef = nil
			r.Spec.Plan = p.Spec.DeepCopy()
			r.Spec.Plan.Steps = nil
		}), msg: "the plan is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, p, local, tt.run)
			h.reconcile("run1")
			run := h.run("run1")
			require.Equal(t, v1alpha1.RunError, run.Status.Phase)
			require.Contains(t, run.Status.Message, tt.msg)
			require.Equal(t, metav1.ConditionTrue, condition(t, run, conditions.Stalled).Status)
			require.Equal(t, metav1.ConditionFalse, condition(t, run, conditions.Ready).Status)
			require.NotNil(t, run.Status.CompletionTime)
			require.Empty(t, h.engine.drills)
			require.Empty(t, run.Finalizers)
		})
	}
	t.Run("the engine refuses it", func(t *testing.T) {
		h := newHarness(t, p, runOf("run1", nil))
		h.engine.err = errBoom
		h.reconcile("run1")
		run := h.run("run1")
		require.Equal(t, v1alpha1.RunError, run.Status.Phase)
		require.Equal(t, "boom", run.Status.Message)
		require.Empty(t, run.Finalizers, "nothing was touched: the run is released")
	})
}
