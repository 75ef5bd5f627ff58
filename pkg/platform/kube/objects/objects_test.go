package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

func TestPodFilter(t *testing.T) {
	gpuEast := fixtures.Node("g", "east", "8", "32Gi", 2)
	cpuWest := fixtures.Node("c", "west", "8", "32Gi", 0)
	app := labels.SelectorFromSet(labels.Set{"app": "recommender"})
	tests := []struct {
		name   string
		filter PodFilter
		pod    corev1.Pod
		node   *corev1.Node
		want   bool
	}{
		{name: "a running pod matching the selector is a candidate", filter: PodFilter{Selector: app}, pod: fixtures.Pod("ns", "p", "g", "1", "1Gi", 1), node: gpuEast, want: true},
		{name: "a pod not matching the selector is not", filter: PodFilter{Selector: app}, pod: fixtures.Pod("ns", "p", "g", "1", "1Gi", 1, fixtures.Labelled("app", "other")), node: gpuEast},
		{name: "a pending pod is not", filter: PodFilter{}, pod: fixtures.Pod("ns", "p", "", "1", "1Gi", 1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending })},
		{name: "a terminating pod is not", filter: PodFilter{}, pod: fixtures.Pod("ns", "p", "g", "1", "1Gi", 1, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }), node: gpuEast},
		{name: "gpuOnly keeps a pod that requests a GPU", filter: PodFilter{GPUOnly: true}, pod: fixtures.Pod("ns", "p", "c", "1", "1Gi", 1), node: cpuWest, want: true},
		{name: "gpuOnly drops a CPU pod even on a GPU node", filter: PodFilter{GPUOnly: true}, pod: fixtures.Pod("ns", "p", "g", "1", "1Gi", 0), node: gpuEast},
		{name: "gpuOnly drops a CPU pod on a CPU node", filter: PodFilter{GPUOnly: true}, pod: fixtures.Pod("ns", "p", "c", "1", "1Gi", 0), node: cpuWest},
		{name: "region comes from the node", filter: PodFilter{Region: "east"}, pod: fixtures.Pod("ns", "p", "g", "1", "1Gi", 0), node: gpuEast, want: true},
		{name: "a pod in another region is not a candidate", filter: PodFilter{Region: "east"}, pod: fixtures.Pod("ns", "p", "c", "1", "1Gi", 0), node: cpuWest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.filter.Matches(&tt.pod, tt.node))
		})
	}
}

func TestNodeFilter(t *testing.T) {
	m := marks.Mark{RunID: "r1", Fault: "drain"}
	tests := []struct {
		name   string
		filter NodeFilter
		node   *corev1.Node
		want   bool
	}{
		{name: "a schedulable GPU node is a candidate", filter: NodeFilter{GPUOnly: true}, node: fixtures.Node("a", "east", "8", "32Gi", 1), want: true},
		{name: "a node advertising GPUs without the label is a GPU node", filter: NodeFilter{GPUOnly: true},
			node: fixtures.Node("a", "east", "8", "32Gi", 1, func(n *corev1.Node) { delete(n.Labels, LabelGPUPresent) }), want: true},
		{name: "a CPU node is not a GPU candidate", filter: NodeFilter{GPUOnly: true}, node: fixtures.Node("a", "east", "8", "32Gi", 0)},
		{name: "a node of another region is not a candidate", filter: NodeFilter{Region: "west"}, node: fixtures.Node("a", "east", "8", "32Gi", 0)},
		{name: "a node someone else cordoned is not a candidate", filter: NodeFilter{}, node: fixtures.Node("a", "east", "8", "32Gi", 0, fixtures.Cordoned)},
		{name: "a node this fault cordoned stays a candidate", filter: NodeFilter{},
			node: fixtures.Node("a", "east", "8", "32Gi", 0, fixtures.Cordoned, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "drain"})), want: true},
		{name: "a selector that does not match drops the node", filter: NodeFilter{Selector: labels.SelectorFromSet(labels.Set{"pool": "a100"})}, node: fixtures.Node("a", "east", "8", "32Gi", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.filter.Matches(tt.node, m))
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
			require.Equal(t, tt.want, WorkloadRegion(tt.labels, tt.tmpl))
		})
	}
}

func TestScopeGivesUnlabelledObjectsTheClusterRegion(t *testing.T) {
	fleet := Scope{Cluster: "east"}
	require.Equal(t, "east", fleet.NodeRegion(fixtures.Node("a", "", "8", "32Gi", 0, fixtures.Unlabelled)))
	require.Equal(t, "central", fleet.NodeRegion(fixtures.Node("b", "central", "8", "32Gi", 0)), "a node labelled elsewhere keeps its label")
	require.Empty(t, Scope{}.NodeRegion(fixtures.Node("a", "", "8", "32Gi", 0, fixtures.Unlabelled)), "one cluster has no default region")
	require.Equal(t, "east", fleet.WorkloadRegion(nil, &corev1.PodTemplateSpec{}))
	f := NodeFilter{Region: "east", Scope: fleet}
	require.True(t, f.Matches(fixtures.Node("a", "", "8", "32Gi", 0, fixtures.Unlabelled), marks.Mark{}))
	require.False(t, f.Matches(fixtures.Node("b", "central", "8", "32Gi", 0), marks.Mark{}))
	pf := PodFilter{Region: "east", Scope: fleet}
	p := fixtures.Pod("ns", "p", "a", "1", "1Gi", 0)
	require.True(t, pf.Matches(&p, fixtures.Node("a", "", "8", "32Gi", 0, fixtures.Unlabelled)))
	require.False(t, pf.Matches(&p, fixtures.Node("b", "central", "8", "32Gi", 0)))
}

func TestNames(t *testing.T) {
	ref, err := ParseWorkload("StatefulSet/recsys/store")
	require.NoError(t, err)
	require.Equal(t, "StatefulSet/recsys/store", WorkloadName(ref))
	_, err = ParseWorkload("DaemonSet/recsys/agent")
	require.ErrorContains(t, err, "cannot be scaled")
	_, err = ParseWorkload("recsys/store")
	require.ErrorContains(t, err, "is not Kind/namespace/name")
	ns, n, err := SplitKey("recsys/frontdoor")
	require.NoError(t, err)
	require.Equal(t, []string{"recsys", "frontdoor"}, []string{ns, n})
	_, _, err = SplitKey("a/b/c")
	require.Error(t, err)
	require.Equal(t, "firedrill-20261202t0900z-abc-kill-one", ObjectName("20261202T0900Z-abc", "kill-one"))
	require.Len(t, ObjectName(strings.Repeat("r", 80), "s"), 63)
	require.ErrorContains(t, NamespaceAllowed([]string{"recsys"}, "billing"), "namespace billing is not in safety.namespaces [recsys]")
}

func TestShortName(t *testing.T) {
	require.Equal(t, "firedrill-r1-store-recommender-us-east", ShortName("firedrill-r1-store-recommender-us-east", 63))
	long := ShortName("firedrill-"+strings.Repeat("x", 60)+"-store-recommender-us-east", 63)
	other := ShortName("firedrill-"+strings.Repeat("x", 60)+"-store-recommender-us-west", 63)
	require.Len(t, long, 63)
	require.NotEqual(t, long, other, "names cut to the limit stay distinct")
}
