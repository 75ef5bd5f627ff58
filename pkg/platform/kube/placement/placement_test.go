package placement

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

func TestCheckDrain(t *testing.T) {
	gpuNode := func(name, region string, gpus int64, opts ...fixtures.NodeOpt) *corev1.Node {
		return fixtures.Node(name, region, "8", "32Gi", gpus, opts...)
	}
	pdb := func(allowed int32) policyv1.PodDisruptionBudget {
		return policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "recommender"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "recommender"}}},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: 3, DesiredHealthy: 3},
		}
	}
	tests := []struct {
		name       string
		in         Input
		sufficient bool
		unplaced   []string
		blocked    int
		outside    []string
		pinned     []string
		demand     Resources
		free       Resources
		remaining  int
	}{
		{
			name: "pods that fit on the other nodes are sufficient",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 2), Pods: []corev1.Pod{
					fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1), fixtures.Pod("recsys", "p2", "a", "1", "1Gi", 1),
				}}},
				Others: []NodeState{
					{Node: gpuNode("b", "east", 2), Pods: []corev1.Pod{fixtures.Pod("recsys", "p3", "b", "1", "1Gi", 1)}},
					{Node: gpuNode("c", "east", 1)},
				},
			},
			sufficient: true,
			demand:     Resources{MilliCPU: 2000, Memory: 2 << 30, GPU: 2},
			free:       Resources{MilliCPU: 15000, Memory: 63 << 30, GPU: 2},
			remaining:  2,
		},
		{
			name: "a GPU short of room leaves one pod unplaced with the numbers",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 2), Pods: []corev1.Pod{
					fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1), fixtures.Pod("recsys", "p2", "a", "1", "1Gi", 1),
				}}},
				Others: []NodeState{{Node: gpuNode("b", "east", 2), Pods: []corev1.Pod{fixtures.Pod("recsys", "p3", "b", "1", "1Gi", 1)}}},
			},
			unplaced:  []string{"recsys/p2"},
			demand:    Resources{MilliCPU: 2000, Memory: 2 << 30, GPU: 2},
			free:      Resources{MilliCPU: 7000, Memory: 31 << 30, GPU: 1},
			remaining: 1,
		},
		{
			name: "aggregate room split across nodes does not fit a pod that needs it on one node",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 2), Pods: []corev1.Pod{fixtures.Pod("recsys", "big", "a", "1", "1Gi", 2)}}},
				Others:   []NodeState{{Node: gpuNode("b", "east", 1)}, {Node: gpuNode("c", "east", 1)}},
			},
			unplaced:  []string{"recsys/big"},
			demand:    Resources{MilliCPU: 1000, Memory: 1 << 30, GPU: 2},
			free:      Resources{MilliCPU: 16000, Memory: 64 << 30, GPU: 2},
			remaining: 2,
		},
		{
			name: "cordoned and NotReady nodes are not room",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1)}}},
				Others: []NodeState{
					{Node: gpuNode("b", "east", 4, fixtures.Cordoned)},
					{Node: gpuNode("c", "east", 4, func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse })},
				},
			},
			unplaced: []string{"recsys/p1"},
			demand:   Resources{MilliCPU: 1000, Memory: 1 << 30, GPU: 1},
		},
		{
			name: "a node selector limits where a pod may go",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1, fixtures.Pinned("east"))}}},
				Others:   []NodeState{{Node: gpuNode("b", "west", 4)}, {Node: gpuNode("c", "east", 0)}},
			},
			unplaced:  []string{"recsys/p1"},
			demand:    Resources{MilliCPU: 1000, Memory: 1 << 30, GPU: 1},
			free:      Resources{MilliCPU: 8000, Memory: 32 << 30},
			remaining: 1,
		},
		{
			name: "an untolerated taint keeps a pod off a node and a tolerated one does not",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 2), Pods: []corev1.Pod{
					fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1, fixtures.Tolerating("kwok")), fixtures.Pod("recsys", "p2", "a", "1", "1Gi", 1),
				}}},
				Others: []NodeState{{Node: gpuNode("b", "east", 4, fixtures.Tainted("kwok"))}},
			},
			unplaced:  []string{"recsys/p2"},
			demand:    Resources{MilliCPU: 2000, Memory: 2 << 30, GPU: 2},
			free:      Resources{MilliCPU: 8000, Memory: 32 << 30, GPU: 4},
			remaining: 1,
		},
		{
			name: "DaemonSet and finished pods are not evicted",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{
					fixtures.Pod("kube-system", "agent", "a", "1", "1Gi", 0, fixtures.DaemonSetPod),
					fixtures.Pod("recsys", "done", "a", "1", "1Gi", 1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				}}},
				Namespaces: []string{"recsys"},
			},
			sufficient: true,
		},
		{
			name: "pods pinned to the lost region are not expected to move",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1, fixtures.Pinned("east"))}}},
				Others:   []NodeState{{Node: gpuNode("b", "west", 1)}},
				Movable:  func(p *corev1.Pod) bool { return p.Spec.NodeSelector[objects.LabelRegion] != "east" },
			},
			sufficient: true,
			pinned:     []string{"recsys/p1"},
			free:       Resources{MilliCPU: 8000, Memory: 32 << 30, GPU: 1},
			remaining:  1,
		},
		{
			name: "a budget that allows no disruption blocks the drain",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1)}}},
				Others:   []NodeState{{Node: gpuNode("b", "east", 1)}},
				PDBs:     []policyv1.PodDisruptionBudget{pdb(0)},
			},
			blocked:   1,
			demand:    Resources{MilliCPU: 1000, Memory: 1 << 30, GPU: 1},
			free:      Resources{MilliCPU: 8000, Memory: 32 << 30, GPU: 1},
			remaining: 1,
		},
		{
			name: "a budget that allows one disruption lets a drain of two pods proceed one at a time",
			in: Input{
				Draining: []NodeState{{Node: gpuNode("a", "east", 2), Pods: []corev1.Pod{
					fixtures.Pod("recsys", "p1", "a", "1", "1Gi", 1), fixtures.Pod("recsys", "p2", "a", "1", "1Gi", 1),
				}}},
				Others: []NodeState{{Node: gpuNode("b", "east", 2)}},
				PDBs:   []policyv1.PodDisruptionBudget{pdb(1)},
			},
			sufficient: true,
			demand:     Resources{MilliCPU: 2000, Memory: 2 << 30, GPU: 2},
			free:       Resources{MilliCPU: 8000, Memory: 32 << 30, GPU: 2},
			remaining:  1,
		},
		{
			name: "pods of namespaces outside the allow-list are reported",
			in: Input{
				Draining:   []NodeState{{Node: gpuNode("a", "east", 1), Pods: []corev1.Pod{fixtures.Pod("billing", "b1", "a", "100m", "64Mi", 0)}}},
				Others:     []NodeState{{Node: gpuNode("b", "east", 1)}},
				Namespaces: []string{"recsys"},
			},
			sufficient: true,
			outside:    []string{"billing/b1"},
			demand:     Resources{MilliCPU: 100, Memory: 64 << 20},
			free:       Resources{MilliCPU: 8000, Memory: 32 << 30, GPU: 1},
			remaining:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckDrain(tt.in)
			require.Equal(t, tt.sufficient, got.Sufficient(), got.String())
			var unplaced []string
			for _, pl := range got.Unplaced() {
				unplaced = append(unplaced, pl.Pod)
			}
			require.Equal(t, tt.unplaced, unplaced)
			require.Len(t, got.Blocked, tt.blocked)
			require.Equal(t, tt.outside, got.Outside)
			require.Equal(t, tt.pinned, got.Pinned)
			require.Equal(t, tt.demand, got.Demand)
			require.Equal(t, tt.free, got.Free)
			require.Equal(t, tt.remaining, got.Remaining)
		})
	}
}

func TestPreflightStringHasTheNumbers(t *testing.T) {
	got := CheckDrain(Input{
		Draining: []NodeState{{Node: fixtures.Node("a", "east", "8", "32Gi", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "p1", "a", "500m", "1Gi", 1)}}},
		Others:   []NodeState{{Node: fixtures.Node("b", "east", "8", "32Gi", 0)}},
	})
	require.Equal(t, "draining a evicts 1 pods requesting cpu 500m, memory 1Gi, nvidia.com/gpu 1; "+
		"the 1 remaining schedulable nodes that admit them have cpu 8, memory 32Gi, nvidia.com/gpu 0 free; "+
		"1 pods fit on no remaining node: recsys/p1 (cpu 500m, memory 1Gi, nvidia.com/gpu 1)", got.String())
}

func TestPodRequests(t *testing.T) {
	p := fixtures.Pod("ns", "p", "", "1", "1Gi", 1)
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
	}}}
	require.Equal(t, Resources{MilliCPU: 4000, Memory: 1 << 30, GPU: 1}, PodRequests(&p))
}
