//go:build e2e

package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// gpuAllocatable reads a node's nvidia.com/gpu allocatable and capacity.
func gpuAllocatable(ctx context.Context, t *testing.T, c *framework.Cluster, name string) (allocatable, capacity int64) {
	t.Helper()
	n := getNode(ctx, t, c, name)
	a, cp := n.Status.Allocatable[kube.ResourceGPU], n.Status.Capacity[kube.ResourceGPU]
	return a.Value(), cp.Value()
}

// podsOf lists the live pods of a namespace whose name starts with
// prefix.
func podsOf(ctx context.Context, t *testing.T, c *framework.Cluster, ns, prefix string) []corev1.Pod {
	t.Helper()
	list, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var out []corev1.Pod
	for _, p := range list.Items {
		if strings.HasPrefix(p.Name, prefix) && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitingForGPU says whether the scheduler left a pod Pending for want of
// a GPU.
func waitingForGPU(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, "Insufficient nvidia.com/gpu") {
			return true
		}
	}
	return false
}

func gpuFault(runID, region string, gpus *int32, policy v1alpha1.CapacityPolicy) platform.Fault {
	return platform.Fault{ID: "fail-gpus", RunID: runID, Spec: &v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{
		Region: region, GPUs: gpus, TaintKey: v1alpha1.DefaultGPUTaintKey, GracePeriod: &metav1.Duration{}, OnInsufficientCapacity: policy,
	}}}
}

// gpuPartial: two nodes of two GPUs run four GPU pods, so no GPU is
// free. One GPU of a node fails: refused under refuse; under warn the
// node's allocatable drops to 1 in its status, its youngest pod is
// deleted, and the scheduler keeps the replacement Pending (kwok leaves
// the allocatable as set; the scheduler honours it) until the revert
// gives the GPU back.
func (s *suite) gpuPartial(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "gp", regions: map[string]scenarioRegion{"gp-east": {nodes: 2, gpusPerNode: 2, replicas: 4}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-gp-east"), true)
	victim, n := nodeWithMostPods(ctx, t, c, "gp")
	require.Equal(t, 2, n, "four GPU pods fill two nodes of two GPUs")
	target := evidence.Target{Kind: evidence.KindNode, Name: victim}

	refused := gpuFault("e2e-gp", "gp-east", ptr.To[int32](1), v1alpha1.CapacityRefuse)
	err := p.Inject(ctx, refused, target)
	require.ErrorContains(t, err, "refusing to fail GPUs: insufficient capacity (onInsufficientCapacity: refuse): failing 1 of the 2 GPUs of node "+victim)
	require.ErrorContains(t, err, "1 pods fit on no other node and stay Pending until revert")
	alloc, _ := gpuAllocatable(ctx, t, c, victim)
	require.Equal(t, int64(2), alloc, "a refused failure touches nothing")
	require.NotContains(t, getNode(ctx, t, c, victim).Annotations, kube.AnnotationRunID)

	f := gpuFault("e2e-gp", "gp-east", ptr.To[int32](1), v1alpha1.CapacityWarn)
	f.ID = "fail-one-gpu"
	before := podsOf(ctx, t, c, "gp", "recommender")
	injected := time.Now()
	require.NoError(t, p.Inject(ctx, f, target))
	alloc, capacity := gpuAllocatable(ctx, t, c, victim)
	require.Equal(t, int64(1), alloc, "the node's allocatable drops by the failed GPU")
	require.Equal(t, int64(2), capacity, "its capacity stays, as a kubelet reports an unhealthy device")
	node := getNode(ctx, t, c, victim)
	require.Empty(t, taintsBut(node, framework.KwokNodeAnnotation), "a node with a GPU left is not tainted")
	require.JSONEq(t, `{"allocatable":2,"failed":1}`, node.Annotations[kube.AnnotationGPUFailure])
	require.Equal(t, 1, podsOn(ctx, t, c, "gp", victim), "the pod that no longer fits is deleted; the other keeps its GPU")

	var pending *corev1.Pod
	eventually(ctx, t, time.Minute, "the replacement to wait for a GPU", func(ctx context.Context) (bool, error) {
		for _, p := range podsOf(ctx, t, c, "gp", "recommender") {
			if p.Spec.NodeName == "" && waitingForGPU(&p) {
				pending = &p
				return true, nil
			}
		}
		return false, nil
	})
	// Long enough for kwok and the scheduler to have undone the fault if
	// either were going to: the pod stays Pending and the status stays.
	time.Sleep(5 * time.Second)
	require.Empty(t, getPod(ctx, t, c, "gp", pending.Name).Spec.NodeName, "the scheduler does not place the pod on the failed GPU")
	alloc, _ = gpuAllocatable(ctx, t, c, victim)
	require.Equal(t, int64(1), alloc, "kwok leaves the allocatable as the fault set it")
	pt := capacityOf(ctx, t, p, "Deployment/gp/recommender-gp-east")
	require.Equal(t, 3, pt.Ready, "the GPU lost is capacity lost")
	require.Equal(t, 4, pt.Desired)
	notes := strings.Join(ev.notes(f.ID), "\n")
	require.Contains(t, notes, "failed GPUs despite insufficient capacity (onInsufficientCapacity: warn)")
	require.Contains(t, notes, "node "+victim+" lost 1 of 2 GPUs (nvidia.com/gpu allocatable 2 → 1)")
	require.Contains(t, notes, "pod gp/"+pending.Name+" is waiting for a GPU: ", "the watcher reports the Pending pod as lost GPU capacity")
	require.Len(t, ev.of(evidence.EventTookEffect, f.ID), 1)
	require.False(t, ev.of(evidence.EventTookEffect, f.ID)[0].At.Before(injected))
	require.Len(t, before, 4)

	reverted := time.Now()
	require.NoError(t, p.Revert(ctx, f, target))
	alloc, _ = gpuAllocatable(ctx, t, c, victim)
	require.Equal(t, int64(2), alloc, "revert gives the GPU back")
	require.NotContains(t, getNode(ctx, t, c, victim).Annotations, kube.AnnotationGPUFailure)
	c.WaitReady(ctx, t, "gp", "recommender-gp-east")
	require.Equal(t, victim, getPod(ctx, t, c, "gp", pending.Name).Spec.NodeName, "the waiting pod takes the GPU that came back")
	t.Logf("measure: partial GPU failure: the replacement stayed Pending for the whole fault (%s); capacity back %s after the revert",
		reverted.Sub(injected).Round(100*time.Millisecond), time.Since(reverted).Round(100*time.Millisecond))
	require.NoError(t, p.Revert(ctx, f, target), "revert is idempotent")
}

// gpuFull: every GPU of a node fails. The node's allocatable drops to 0
// and it is tainted nvidia.com/gpu.unhealthy:NoExecute; its GPU pods are
// deleted at once, the real taint-eviction controller evicts its CPU pod,
// and every replacement runs on the other node. Revert removes the taint
// and restores the allocatable.
func (s *suite) gpuFull(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "gf", regions: map[string]scenarioRegion{"gf-east": {nodes: 2, gpusPerNode: 2, replicas: 2}}}
	sc.setUp(ctx, t, c)
	victim, n := nodeWithMostPods(ctx, t, c, "gf")
	require.Positive(t, n)
	// A CPU workload that prefers the victim: the taint, not firedrill,
	// must evict it.
	cpu := framework.ModelStoreDeployment("gf")
	lbls := map[string]string{"app": "cpu-svc"}
	cpu.Name, cpu.Labels, cpu.Spec.Selector.MatchLabels, cpu.Spec.Template.Labels = "cpu-svc", lbls, lbls, lbls
	cpu.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100, Preference: corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{victim}}},
		}}},
	}}
	_, err := c.Clientset.AppsV1().Deployments("gf").Create(ctx, cpu, metav1.CreateOptions{})
	require.NoError(t, err)
	c.WaitReady(ctx, t, "gf", "cpu-svc")
	cpuPods := podsOf(ctx, t, c, "gf", "cpu-svc")
	require.Len(t, cpuPods, 1)
	require.Equal(t, victim, cpuPods[0].Spec.NodeName, "the CPU pod runs where it prefers")

	spec := sc.spec("recommender-gf-east")
	p, ev := newPlatform(ctx, t, c, spec, true)
	f := gpuFault("e2e-gf", "gf-east", nil, v1alpha1.CapacityRefuse)
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 2)
	target := evidence.Target{Kind: evidence.KindNode, Name: victim}
	injected := time.Now()
	require.NoError(t, p.Inject(ctx, f, target))
	alloc, _ := gpuAllocatable(ctx, t, c, victim)
	require.Zero(t, alloc)
	node := getNode(ctx, t, c, victim)
	require.Contains(t, node.Spec.Taints, corev1.Taint{Key: v1alpha1.DefaultGPUTaintKey, Effect: corev1.TaintEffectNoExecute})
	w := "Deployment/gf/recommender-gf-east"
	var back time.Time
	eventually(ctx, t, 2*time.Minute, "the GPU pods to run on the other node again", func(ctx context.Context) (bool, error) {
		pt := capacityOf(ctx, t, p, w)
		if pt.Ready == pt.Desired && podsOn(ctx, t, c, "gf", victim) == 0 {
			back = pt.At
			return true, nil
		}
		return false, nil
	})
	eventually(ctx, t, time.Minute, "the taint-eviction controller to move the CPU pod", func(ctx context.Context) (bool, error) {
		pods := podsOf(ctx, t, c, "gf", "cpu-svc")
		return len(pods) == 1 && pods[0].Name != cpuPods[0].Name && pods[0].Spec.NodeName != "" && pods[0].Spec.NodeName != victim, nil
	})
	effect := ev.of(evidence.EventTookEffect, f.ID)
	require.Len(t, effect, 1)
	rto := back.Sub(effect[0].At)
	t.Logf("measure: full GPU failure of %s (%d GPU pods): capacity RTO %s (kwok start delay 2s)", victim, n, rto.Round(100*time.Millisecond))
	require.GreaterOrEqual(t, rto, 2*time.Second, "a replacement takes at least kwok's start delay")
	require.Len(t, ev.of(evidence.EventReplaced, f.ID), 1)
	require.Less(t, time.Since(injected), 2*time.Minute)

	require.NoError(t, p.Revert(ctx, f, target))
	node = getNode(ctx, t, c, victim)
	alloc, _ = gpuAllocatable(ctx, t, c, victim)
	require.Equal(t, int64(2), alloc)
	require.Empty(t, taintsBut(node, framework.KwokNodeAnnotation), "revert removes the taint")
	require.NotContains(t, node.Annotations, kube.AnnotationRunID)
}

// taintsBut is a node's taints without those of key.
func taintsBut(n *corev1.Node, key string) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != key {
			out = append(out, t)
		}
	}
	return out
}

func getPod(ctx context.Context, t *testing.T, c *framework.Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}
