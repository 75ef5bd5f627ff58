package kube

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
)

func gpuSpec(g *v1alpha1.GPUFailure) *v1alpha1.DrillPlanSpec {
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		Steps:  []v1alpha1.Step{{Name: "gpu", Fault: &v1alpha1.Fault{GPUFailure: g}}},
	}
	v1alpha1.SetDefaults_DrillPlanSpec(spec)
	return spec
}

// gpuObjects are two GPU nodes of east, each running one GPU pod of
// recsys, and a CPU node.
func gpuObjects() []runtime.Object {
	a := fixtures.Pod("recsys", "rec-a", "east-1", "1", "1Gi", 1, fixtures.Owned)
	b := fixtures.Pod("recsys", "rec-b", "east-2", "1", "1Gi", 1, fixtures.Owned)
	return []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2),
		fixtures.Node("east-cpu", "east", "8", "32Gi", 0), &a, &b,
	}
}

func gpuFault(run string, spec *v1alpha1.DrillPlanSpec) platform.Fault {
	return platform.Fault{ID: "gpu", RunID: run, Spec: spec.Steps[0].Fault}
}

func TestAGPUFailureThroughThePlatformIsInjectedRevertedAndRecovered(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	spec := gpuSpec(&v1alpha1.GPUFailure{Region: "east"})
	fc := withClock(t, newFake(t, spec, interceptor.Funcs{}, gpuObjects()...), clk)
	require.NoError(t, fc.later(spec, clk).Preflight(ctx, spec))
	f := gpuFault("r1", spec)
	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 2, "the GPU nodes of east")
	require.Equal(t, evidence.KindNode, targets[0].Kind)
	require.Equal(t, "nvidia.com/gpu.unhealthy:NoExecute", targets[0].Labels[gpu.LabelTaint], "a dry run shows the taint")

	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	n := getNode(t, fc, "east-1")
	require.Zero(t, gpu.Allocatable(n))
	require.Contains(t, n.Spec.Taints, gpu.Taint(v1alpha1.DefaultGPUTaintKey))
	require.Len(t, fc.events.of(evidence.EventTookEffect, "gpu"), 1)
	require.Equal(t, []string{"node east-1 lost 2 of 2 GPUs (nvidia.com/gpu allocatable 2 → 0) and was tainted nvidia.com/gpu.unhealthy:NoExecute; its GPU pods that no longer fit were deleted: recsys/rec-a"},
		fc.events.messages(evidence.EventNote, "gpu"))
	again, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, again, 2, "a resumed run resolves the node it failed")

	// drill cleanup from the journal: the spec is known.
	require.NoError(t, fc.later(spec, clk).Recover(ctx, f, targets[:1]))
	n = getNode(t, fc, "east-1")
	require.Equal(t, int64(2), gpu.Allocatable(n))
	require.Empty(t, n.Spec.Taints)
	require.NotContains(t, n.Annotations, AnnotationGPUFailure)
	require.Nil(t, heartbeatOf(t, fc.c, "r1"))
}

func TestRecoverOrphansRestoresAGPUFailureAndADrainEachFromItsOwnMarks(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	spec := gpuSpec(&v1alpha1.GPUFailure{Region: "east", GPUs: ptr.To[int32](1)})
	fc := withClock(t, newFake(t, spec, interceptor.Funcs{}, gpuObjects()...), clk)
	require.NoError(t, fc.p.Inject(ctx, gpuFault("dead", spec), evidence.Target{Kind: evidence.KindNode, Name: "east-1"}))
	drain := platform.Fault{ID: "drain", RunID: "dead", Spec: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}}
	// The drain's cordon, as a run that died mid-drain left it.
	other := fixtures.Node("east-3", "east", "8", "32Gi", 0)
	require.NoError(t, fc.c.Create(ctx, other))
	require.NoError(t, nodes.Cordon(ctx, fc.c, "east-3", nil, fc.p.markOf(drain)))
	renewedAt(t, fc.c, "dead", fixtures.Epoch.Add(-time.Minute))

	got, err := fc.later(spec, clk).RecoverOrphans(ctx, OrphanOptions{})
	require.NoError(t, err)
	require.Len(t, got, 2)
	for _, o := range got {
		require.True(t, o.Reverted, "%s", o.Fault)
	}
	n := getNode(t, fc, "east-1")
	require.Equal(t, int64(2), gpu.Allocatable(n), "the GPU failure's record restores the allocatable")
	require.False(t, n.Spec.Unschedulable, "and is never taken for a cordon")
	require.NotContains(t, n.Annotations, AnnotationRunID)
	c := getNode(t, fc, "east-3")
	require.False(t, c.Spec.Unschedulable, "the drain's node is uncordoned")
	require.NotContains(t, c.Annotations, AnnotationRunID)
}

func TestPreflightChecksGPUHeadroomAndNodesOtherRunsHold(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	// Both GPU nodes full: a GPU pod that loses its GPU has nowhere to go.
	full := append(gpuObjects(), ptr.To(fixtures.Pod("recsys", "rec-c", "east-1", "1", "1Gi", 1, fixtures.Owned)),
		ptr.To(fixtures.Pod("recsys", "rec-d", "east-2", "1", "1Gi", 1, fixtures.Owned)),
		fixtures.Node("east-9", "east", "8", "32Gi", 0, fixtures.Cordoned, fixtures.Annotated(map[string]string{
			AnnotationRunID: "old", AnnotationFault: "drain", AnnotationWasUnschedulable: "false",
		})))
	spec := gpuSpec(&v1alpha1.GPUFailure{Region: "east"})
	fc := withClock(t, newFake(t, spec, interceptor.Funcs{}, full...), clk)
	err := fc.p.Preflight(ctx, spec)
	require.ErrorContains(t, err, "step gpu: only 0 of the 2 candidate GPU nodes can lose every GPU, and the step picks 1: insufficient capacity (onInsufficientCapacity: refuse)")
	require.ErrorContains(t, err, "run old left faults on this cluster and is not running", "a GPU failure acts on nodes: another run's node marks refuse it")

	warn := gpuSpec(&v1alpha1.GPUFailure{Region: "east", OnInsufficientCapacity: v1alpha1.CapacityWarn})
	err = fc.p.Preflight(ctx, warn)
	require.NotContains(t, err.Error(), "insufficient capacity", "warn lets a shortfall through")
}
