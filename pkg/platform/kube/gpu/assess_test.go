package gpu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
)

// aged sets a pod's creation time to minutes after the fixtures' epoch.
func aged(minutes int) fixtures.PodOpt {
	return func(p *corev1.Pod) {
		p.CreationTimestamp = metav1.NewTime(fixtures.Epoch.Add(time.Duration(minutes) * time.Minute))
	}
}

func keys(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, objects.PodKey(p))
	}
	return out
}

func TestLostPicksTheYoungestGPUPodsThatNoLongerFit(t *testing.T) {
	terminating := fixtures.Pod("recsys", "leaving", "a", "1", "1Gi", 1, aged(9), func(p *corev1.Pod) {
		p.DeletionTimestamp = &metav1.Time{Time: fixtures.Epoch}
	})
	pods := []corev1.Pod{
		fixtures.Pod("recsys", "old", "a", "1", "1Gi", 1, aged(1)),
		fixtures.Pod("recsys", "two-gpus", "a", "1", "1Gi", 2, aged(2)),
		fixtures.Pod("recsys", "young", "a", "1", "1Gi", 1, aged(3)),
		fixtures.Pod("recsys", "cpu", "a", "1", "1Gi", 0, aged(4)),
		terminating,
	}
	tests := []struct {
		name      string
		remaining int64
		want      []string
	}{
		{name: "every GPU left: nothing is lost", remaining: 4},
		{name: "one GPU fewer: the youngest GPU pod", remaining: 3, want: []string{"recsys/young"}},
		{name: "two fewer: a younger one-GPU pod keeps what the two-GPU pod cannot", remaining: 2, want: []string{"recsys/two-gpus"}},
		{name: "one left: the oldest keeps it", remaining: 1, want: []string{"recsys/two-gpus", "recsys/young"}},
		{name: "none left: every GPU pod, never a CPU pod or one already leaving", remaining: 0,
			want: []string{"recsys/old", "recsys/two-gpus", "recsys/young"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, keys(Lost(pods, tt.remaining)))
		})
	}
}

func TestTaintedPodsDoNotTolerateTheTaint(t *testing.T) {
	pods := []corev1.Pod{
		fixtures.Pod("recsys", "b", "a", "1", "1Gi", 0),
		fixtures.Pod("recsys", "a", "a", "1", "1Gi", 1),
		fixtures.Pod("recsys", "tolerant", "a", "1", "1Gi", 1, fixtures.Tolerating("nvidia.com/gpu.unhealthy")),
		fixtures.Pod("recsys", "pool", "a", "1", "1Gi", 1, fixtures.Tolerating("nvidia.com/gpu")),
	}
	require.Equal(t, []string{"recsys/a", "recsys/b", "recsys/pool"}, keys(Tainted(pods, Taint("nvidia.com/gpu.unhealthy"))),
		"a pod that tolerates the GPU node pool's taint does not tolerate the unhealthy one")
}

// cluster is a placement input: node a fails, the others stay.
func cluster(a *corev1.Node, aPods []corev1.Pod, others ...placement.NodeState) placement.Input {
	return placement.Input{Draining: []placement.NodeState{{Node: a, Pods: aPods}}, Others: others, Namespaces: []string{"recsys"}}
}

func TestAssess(t *testing.T) {
	const key = "nvidia.com/gpu.unhealthy"
	gpuPods := func(n int) []corev1.Pod {
		var out []corev1.Pod
		for i := range n {
			out = append(out, fixtures.Pod("recsys", string(rune('p'+i)), "a", "1", "1Gi", 1, fixtures.Owned, aged(i)))
		}
		return out
	}
	roomy := placement.NodeState{Node: fixtures.Node("b", "east", "8", "32Gi", 4)}
	full := placement.NodeState{Node: fixtures.Node("b", "east", "8", "32Gi", 1), Pods: []corev1.Pod{fixtures.Pod("recsys", "x", "b", "1", "1Gi", 1, fixtures.Owned)}}
	tests := []struct {
		name         string
		in           placement.Input
		gpus         int64
		taint        string
		wantErr      string
		want         Failure
		sufficient   bool
		wantRefusal  string
		wantContains string
	}{
		{
			name: "a partial failure loses the pods beyond the remaining GPUs and taints nothing",
			in:   cluster(fixtures.Node("a", "east", "8", "32Gi", 4), gpuPods(4), roomy), gpus: 1, taint: key,
			want:       Failure{Node: "a", Allocatable: 4, Failed: 1, Lost: []string{"recsys/s"}},
			sufficient: true,
		},
		{
			name: "a partial failure with GPUs to spare loses no pod",
			in:   cluster(fixtures.Node("a", "east", "8", "32Gi", 4), gpuPods(2), roomy), gpus: 2, taint: key,
			want:       Failure{Node: "a", Allocatable: 4, Failed: 2},
			sufficient: true,
		},
		{
			name: "a full failure taints the node, whose CPU pods the taint evicts too, but not its DaemonSet pods nor tolerant ones",
			in: cluster(fixtures.Node("a", "east", "8", "32Gi", 2), append(gpuPods(2),
				fixtures.Pod("recsys", "cpu", "a", "1", "1Gi", 0, fixtures.Owned),
				fixtures.Pod("kube-system", "device-plugin", "a", "100m", "1Gi", 0, fixtures.DaemonSetPod),
				fixtures.Pod("monitoring", "tolerant", "a", "100m", "1Gi", 0, fixtures.Owned, fixtures.Tolerating(key)),
			), roomy), taint: key,
			want: Failure{Node: "a", Allocatable: 2, Failed: 2, Taint: key, Lost: []string{"recsys/p", "recsys/q"},
				Evicted: []string{"recsys/cpu"}, DaemonPods: []string{"kube-system/device-plugin"}},
			sufficient: true,
		},
		{
			name: "a node already carrying the taint gets no second one",
			in: cluster(fixtures.Node("a", "east", "8", "32Gi", 1, func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{Taint(key)}
			}), gpuPods(1), roomy), taint: key,
			want:       Failure{Node: "a", Allocatable: 1, Failed: 1, Lost: []string{"recsys/p"}},
			sufficient: true,
		},
		{
			name: "pods with nowhere to go are a shortfall",
			in:   cluster(fixtures.Node("a", "east", "8", "32Gi", 2), gpuPods(2), full), taint: key,
			want:         Failure{Node: "a", Allocatable: 2, Failed: 2, Taint: key, Lost: []string{"recsys/p", "recsys/q"}},
			wantContains: "failing 2 of the 2 GPUs of node a (and tainting it nvidia.com/gpu.unhealthy:NoExecute) removes 2 pods requesting cpu 2, memory 2Gi, nvidia.com/gpu 2; the 1 other schedulable nodes that admit them have cpu 7, memory 31Gi, nvidia.com/gpu 0 free; 2 pods fit on no other node and stay Pending until revert: recsys/p (cpu 1, memory 1Gi, nvidia.com/gpu 1); recsys/q",
		},
		{
			name: "a pod outside safety.namespaces or one no controller owns refuses the failure",
			in: cluster(fixtures.Node("a", "east", "8", "32Gi", 2), []corev1.Pod{
				fixtures.Pod("billing", "b", "a", "1", "1Gi", 1, fixtures.Owned), fixtures.Pod("recsys", "bare", "a", "1", "1Gi", 0),
			}, roomy), taint: key,
			want:        Failure{Node: "a", Allocatable: 2, Failed: 2, Taint: key, Lost: []string{"billing/b"}, Evicted: []string{"recsys/bare"}},
			wantRefusal: "it would remove pods outside safety.namespaces: billing/b; pods no controller owns would be lost for good: recsys/bare",
			sufficient:  true,
		},
		{name: "a node without GPUs cannot lose one", in: cluster(fixtures.Node("a", "east", "8", "32Gi", 0), nil, roomy),
			wantErr: "node a has no allocatable nvidia.com/gpu to fail"},
		{name: "more GPUs than the node has", in: cluster(fixtures.Node("a", "east", "8", "32Gi", 2), nil, roomy), gpus: 4,
			wantErr: "node a has 2 allocatable nvidia.com/gpu; gpus: 4 fails more than it has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Assess(tt.in, tt.gpus, tt.taint)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.sufficient, got.Sufficient(), "%s", got)
			require.Equal(t, tt.wantRefusal, got.Refusal())
			if tt.wantContains != "" {
				require.Contains(t, got.String(), tt.wantContains)
			}
			got.Placement = placement.Result{}
			require.Equal(t, tt.want, got)
		})
	}
}
