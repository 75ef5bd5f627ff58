package kube

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestPodFilter(t *testing.T) {
	gpuEast := node("g", "east", "8", "32Gi", 2)
	cpuWest := node("c", "west", "8", "32Gi", 0)
	app := labels.SelectorFromSet(labels.Set{"app": "recommender"})
	tests := []struct {
		name   string
		filter podFilter
		pod    corev1.Pod
		node   *corev1.Node
		want   bool
	}{
		{name: "a running pod matching the selector is a candidate", filter: podFilter{selector: app}, pod: pod("ns", "p", "g", "1", "1Gi", 1), node: gpuEast, want: true},
		{name: "a pod not matching the selector is not", filter: podFilter{selector: app}, pod: pod("ns", "p", "g", "1", "1Gi", 1, labelled("app", "other")), node: gpuEast},
		{name: "a pending pod is not", filter: podFilter{}, pod: pod("ns", "p", "", "1", "1Gi", 1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending })},
		{name: "a terminating pod is not", filter: podFilter{}, pod: pod("ns", "p", "g", "1", "1Gi", 1, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }), node: gpuEast},
		{name: "gpuOnly keeps a pod that requests a GPU", filter: podFilter{gpuOnly: true}, pod: pod("ns", "p", "c", "1", "1Gi", 1), node: cpuWest, want: true},
		{name: "gpuOnly drops a CPU pod even on a GPU node", filter: podFilter{gpuOnly: true}, pod: pod("ns", "p", "g", "1", "1Gi", 0), node: gpuEast},
		{name: "gpuOnly drops a CPU pod on a CPU node", filter: podFilter{gpuOnly: true}, pod: pod("ns", "p", "c", "1", "1Gi", 0), node: cpuWest},
		{name: "region comes from the node", filter: podFilter{region: "east"}, pod: pod("ns", "p", "g", "1", "1Gi", 0), node: gpuEast, want: true},
		{name: "a pod in another region is not a candidate", filter: podFilter{region: "east"}, pod: pod("ns", "p", "c", "1", "1Gi", 0), node: cpuWest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.filter.matches(&tt.pod, tt.node))
		})
	}
}

func TestNodeFilter(t *testing.T) {
	m := mark{RunID: "r1", Fault: "drain"}
	tests := []struct {
		name   string
		filter nodeFilter
		node   *corev1.Node
		want   bool
	}{
		{name: "a schedulable GPU node is a candidate", filter: nodeFilter{gpuOnly: true}, node: node("a", "east", "8", "32Gi", 1), want: true},
		{name: "a node advertising GPUs without the label is a GPU node", filter: nodeFilter{gpuOnly: true},
			node: node("a", "east", "8", "32Gi", 1, func(n *corev1.Node) { delete(n.Labels, LabelGPUPresent) }), want: true},
		{name: "a CPU node is not a GPU candidate", filter: nodeFilter{gpuOnly: true}, node: node("a", "east", "8", "32Gi", 0)},
		{name: "a node of another region is not a candidate", filter: nodeFilter{region: "west"}, node: node("a", "east", "8", "32Gi", 0)},
		{name: "a node someone else cordoned is not a candidate", filter: nodeFilter{}, node: node("a", "east", "8", "32Gi", 0, cordoned)},
		{name: "a node this fault cordoned stays a candidate", filter: nodeFilter{},
			node: node("a", "east", "8", "32Gi", 0, cordoned, annotatedNode(map[string]string{AnnotationRunID: "r1", AnnotationFault: "drain"})), want: true},
		{name: "a selector that does not match drops the node", filter: nodeFilter{selector: labels.SelectorFromSet(labels.Set{"pool": "a100"})}, node: node("a", "east", "8", "32Gi", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.filter.matches(tt.node, m))
		})
	}
}

func TestWorkloadRegion(t *testing.T) {
	tmpl := func(mod func(*corev1.PodTemplateSpec)) *corev1.PodTemplateSpec {
		t := &corev1.PodTemplateSpec{}
		mod(t)
		return t
	}
	tests := []struct {
		name   string
		labels map[string]string
		tmpl   *corev1.PodTemplateSpec
		want   string
	}{
		{name: "the workload's topology label wins", labels: map[string]string{LabelRegion: "east", "region": "west"}, want: "east"},
		{name: "the short region label counts", labels: map[string]string{"region": "west"}, want: "west"},
		{name: "a node selector pins the pods", tmpl: tmpl(func(t *corev1.PodTemplateSpec) { t.Spec.NodeSelector = map[string]string{LabelRegion: "east"} }), want: "east"},
		{name: "a required node affinity to one region pins the pods", tmpl: tmpl(func(t *corev1.PodTemplateSpec) {
			t.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: LabelRegion, Operator: corev1.NodeSelectorOpIn, Values: []string{"west"}}}}},
			}}}
		}), want: "west"},
		{name: "nothing says where: unknown", tmpl: tmpl(func(*corev1.PodTemplateSpec) {}), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, workloadRegion(tt.labels, tt.tmpl))
		})
	}
}

func TestWaitsForGPU(t *testing.T) {
	pending := func(msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg,
		}}}}
	}
	msg, ok := waitsForGPU(pending("0/6 nodes are available: 6 Insufficient nvidia.com/gpu."))
	require.True(t, ok)
	require.Contains(t, msg, "Insufficient nvidia.com/gpu")
	_, ok = waitsForGPU(pending("0/6 nodes are available: 6 Insufficient cpu."))
	require.False(t, ok)
}
