//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// TestServeRecoversAGPUFailure: drill serve (cluster mode, with the
// ClusterRole generated from its RBAC markers) runs a gpuFailure; kill -9
// of the leader while a node's GPUs are failed: the standby takes the
// Lease, restores the node's allocatable, removes its taint and marks, and
// marks the run Interrupted.
func TestServeRecoversAGPUFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	b := newServeBed(ctx, t)
	a := startServe(ctx, t, "a", b.kubeconfig)
	idA := a.identity(t)
	p := b.plan(t, "gpu", `  steps:
    - {name: baseline, wait: 1s}
    - name: gpu
      fault:
        gpuFailure: {region: us-east}
        duration: 5m
`)
	b.create(ctx, t, p)
	dr := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "gpu-by-hand", Namespace: ns},
		Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: p.Name}}}
	b.create(ctx, t, dr)

	var failed string
	require.Eventually(t, func() bool {
		for _, n := range []string{"gpu-east-1", "gpu-east-2"} {
			if g := readGPUNode(ctx, t, b.c, n); g.allocatable == 0 && g.tainted && g.runID == ns+"."+dr.Name {
				failed = n
				return true
			}
		}
		return false
	}, 2*time.Minute, 50*time.Millisecond, "no node lost its GPUs: %s", a.out)
	run := b.waitRun(ctx, t, dr.Name, 30*time.Second, func(r *v1alpha1.DrillRun) bool {
		return len(r.Status.Journal) == 1 && r.Status.Journal[0].State == v1alpha1.FaultActive
	}, "the GPU failure is journaled")
	require.Equal(t, idA, run.Status.Runner)
	require.Equal(t, []v1alpha1.FaultTarget{{Kind: "node", Name: failed, Region: "us-east"}}, run.Status.Journal[0].Targets)

	second := startServe(ctx, t, "b", b.kubeconfig)
	idB := second.identity(t)
	a.kill9(t)
	killed := time.Now()
	var whole time.Time
	require.Eventually(t, func() bool {
		if readGPUNode(ctx, t, b.c, failed) != (gpuNode{allocatable: 4}) {
			return false
		}
		whole = time.Now()
		return true
	}, time.Minute, 20*time.Millisecond, "the new leader restores node %s", failed)
	t.Logf("measure: kill -9 of the leader mid-gpuFailure to node %s whole again (allocatable 4, no taint, no marks) by the new leader: %s (lease 4s, retry 500ms)",
		failed, whole.Sub(killed).Round(time.Millisecond))
	run = b.waitRun(ctx, t, dr.Name, 30*time.Second, released(v1alpha1.RunInterrupted), "the new leader marks it Interrupted")
	require.Contains(t, run.Status.Message, "drill serve replica "+idA+" stopped while the run was going (step gpu); replica "+idB+" reverted gpu")
	require.Equal(t, v1alpha1.FaultReverted, run.Status.Journal[0].State)
	b.c.WaitReady(ctx, t, ns, "recommender-us-east")
}
