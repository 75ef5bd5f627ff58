package drillrun

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
)

// orphan is a run another replica left Running in the middle of a drain:
// a pod kill done, the drain active, an exec fault being injected.
func orphan() *v1alpha1.DrillRun {
	spec := validPlan().Spec
	spec.Target.Platform = v1alpha1.PlatformKubernetes
	spec.Steps = append(spec.Steps,
		v1alpha1.Step{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}},
		v1alpha1.Step{Name: "drain", Fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}},
	)
	return runOf("run1", func(r *v1alpha1.DrillRun) {
		r.Finalizers = []string{Finalizer}
		r.Status.Phase, r.Status.Runner, r.Status.PlanSpec = v1alpha1.RunRunning, "replica-dead", &spec
		r.Status.CurrentStep = "drain"
		r.Status.StartTime = micro(t0)
		r.Status.Steps = []v1alpha1.StepResult{
			{Name: "baseline", Phase: v1alpha1.RunSucceeded}, {Name: "freeze", Phase: v1alpha1.RunSucceeded},
			{Name: "kill", Phase: v1alpha1.RunSucceeded}, {Name: "drain", Phase: v1alpha1.RunRunning},
		}
		r.Status.Journal = []v1alpha1.JournalEntry{
			{Step: "freeze", State: v1alpha1.FaultReverted, Targets: []v1alpha1.FaultTarget{{Kind: "action", Name: "freeze"}}},
			{Step: "kill", State: v1alpha1.FaultActive, Targets: []v1alpha1.FaultTarget{{Kind: "pod", Name: "recsys/recommender-1"}}},
			{Step: "drain", State: v1alpha1.FaultActive, Targets: []v1alpha1.FaultTarget{{Kind: "node", Name: "gpu-east-1", Region: "us-east"}}},
		}
	})
}

func TestARunLeftRunningByAStoppedReplicaIsRevertedAndInterrupted(t *testing.T) {
	h := newHarness(t, validPlan(), orphan())
	require.Zero(t, h.reconcile("run1"))

	// The drain is recovered through the platform, on the journaled
	// targets; the pod kill has nothing to revert; the exec fault was
	// reverted already.
	require.Equal(t, []recoverCall{{
		Fault:   platform.Fault{ID: "drain", RunID: "recsys.run1", Spec: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}},
		Targets: []evidence.Target{{Kind: evidence.KindNode, Name: "gpu-east-1", Region: "us-east"}},
	}}, h.pf.recovered)
	require.Empty(t, h.actions.ran)

	run := h.run("run1")
	require.Equal(t, v1alpha1.RunInterrupted, run.Status.Phase)
	require.Equal(t, v1alpha1.VerdictNotJudged, run.Status.Verdict)
	require.Equal(t, "interrupted: drill serve replica replica-dead stopped while the run was going (step drain); replica replica-a reverted drain",
		run.Status.Message)
	require.Empty(t, run.Status.CurrentStep)
	require.NotNil(t, run.Status.CompletionTime)
	require.Nil(t, run.Status.PlanSpec)
	require.Equal(t, v1alpha1.RunAborted, run.Status.Steps[3].Phase, "the step that was going is aborted")
	for _, e := range run.Status.Journal {
		require.Equal(t, v1alpha1.FaultReverted, e.State, e.Step)
	}
	require.Equal(t, "Interrupted", condition(t, run, conditions.Ready).Reason)
	require.Empty(t, run.Finalizers)
	rep := h.archive.get(run.Status.Report.Path)
	require.NotNil(t, rep, "a report is archived from the last status")
	require.Equal(t, v1alpha1.RunInterrupted, rep.Phase)
	require.Len(t, rep.Plan.Hash, 64)
	require.Empty(t, h.engine.drills, "an interrupted run is not run again")
	_, finished := h.drills.get()
	require.Equal(t, []string{"recsys recsys.run1 Interrupted"}, finished, "the drill metrics get its report")
}

// TestAGPUFailureLeftByAStoppedReplicaIsRecoveredThroughThePlatform: a
// gpuFailure is no special case: the platform's Recover gets its stored
// spec and journaled node, even while it was still being injected (its
// record may be on the node with the allocatable not yet lowered).
func TestAGPUFailureLeftByAStoppedReplicaIsRecoveredThroughThePlatform(t *testing.T) {
	o := orphan()
	gpu := &v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{Region: "us-east", TaintKey: v1alpha1.DefaultGPUTaintKey}}
	o.Status.PlanSpec.Steps = append(o.Status.PlanSpec.Steps, v1alpha1.Step{Name: "gpu", Fault: gpu})
	o.Status.Journal = []v1alpha1.JournalEntry{
		{Step: "gpu", State: v1alpha1.FaultInjecting, Targets: []v1alpha1.FaultTarget{{Kind: "node", Name: "gpu-east-2", Region: "us-east"}}},
	}
	h := newHarness(t, validPlan(), o)
	require.Zero(t, h.reconcile("run1"))
	require.Equal(t, []recoverCall{{
		Fault:   platform.Fault{ID: "gpu", RunID: "recsys.run1", Spec: gpu},
		Targets: []evidence.Target{{Kind: evidence.KindNode, Name: "gpu-east-2", Region: "us-east"}},
	}}, h.pf.recovered)
	run := h.run("run1")
	require.Equal(t, v1alpha1.RunInterrupted, run.Status.Phase)
	require.Contains(t, run.Status.Message, "reverted gpu")
}

func TestAnExecFaultLeftActiveIsRevertedByItsRevertAction(t *testing.T) {
	o := orphan()
	o.Status.Journal = []v1alpha1.JournalEntry{{Step: "freeze", State: v1alpha1.FaultInjecting}}
	h := newHarness(t, validPlan(), o)
	h.reconcile("run1")
	require.Equal(t, []map[string]string{{
		"command": "thaw", "FIREDRILL_RUN_ID": "recsys.run1", "FIREDRILL_PLAN": "nightly", "FIREDRILL_STEP": "freeze", "FIREDRILL_PHASE": "cleanup",
	}}, h.actions.ran)
	require.Empty(t, h.pf.recovered)
	require.Equal(t, v1alpha1.RunInterrupted, h.run("run1").Status.Phase)
}

func TestARecoveryThatFailsIsRetriedAndStalls(t *testing.T) {
	h := newHarness(t, validPlan(), orphan())
	h.pf.err = errBoom
	res := h.reconcile("run1")
	require.Equal(t, recoverRetry, res.RequeueAfter)
	run := h.run("run1")
	require.Equal(t, v1alpha1.RunRunning, run.Status.Phase, "not Interrupted while a fault may be in effect")
	stalled := condition(t, run, conditions.Stalled)
	require.Equal(t, ReasonRecoverFailed, stalled.Reason)
	require.Contains(t, stalled.Message, "step drain: boom")
	require.Equal(t, []string{Finalizer}, run.Finalizers)
	drain := run.Status.Journal[2]
	require.Equal(t, v1alpha1.FaultActive, drain.State)
	require.Equal(t, "boom", drain.Error)
	require.Equal(t, v1alpha1.FaultReverted, run.Status.Journal[1].State, "what could be reverted is recorded")

	h.pf.err = nil
	h.clock.Step(recoverRetry)
	h.reconcile("run1")
	run = h.run("run1")
	require.Equal(t, v1alpha1.RunInterrupted, run.Status.Phase)
	require.Nil(t, meta.FindStatusCondition(run.Status.Conditions, conditions.Stalled))
	require.Contains(t, run.Status.Message, "reverted drain")
}

func TestRecoveryReadsTheRunLive(t *testing.T) {
	// The cache says Running; the API server says it finished.
	h := newHarness(t, validPlan(), orphan())
	live := orphan()
	live.Status.Phase = v1alpha1.RunSucceeded
	h.r.APIReader = staticReader{live}
	res := h.reconcile("run1")
	require.Equal(t, conflictRetry, res.RequeueAfter)
	require.Empty(t, h.pf.recovered)
	require.Equal(t, v1alpha1.RunRunning, h.run("run1").Status.Phase)
}

func TestTheRunnerStopsItsDrillsWhenItStops(t *testing.T) {
	h := newHarness(t, validPlan(), runOf("run1", nil))
	h.reconcile("run1")
	d := h.engine.drill(t, "recsys.run1")
	stopped := make(chan error, 1)
	go func() {
		h.stopRun()
		stopped <- <-h.runnerOK
		h.runnerOK <- nil // for the cleanup's stop
	}()
	require.Eventually(t, func() bool { return len(d.abortReasons()) == 0 && d.ctx.Err() != nil }, 5*time.Second, 5*time.Millisecond,
		"the drill's context is cancelled")
	require.ErrorContains(t, context.Cause(d.ctx), "drill serve replica replica-a is stopping")
	select {
	case <-stopped:
		t.Fatal("the runner returned before its drill ended")
	case <-time.After(50 * time.Millisecond):
	}
	d.end(v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, "drill serve replica replica-a is stopping; every active fault was reverted")
	require.NoError(t, <-stopped)
	run := h.run("run1")
	require.Equal(t, v1alpha1.RunAborted, run.Status.Phase)
	require.Empty(t, run.Finalizers)
}
