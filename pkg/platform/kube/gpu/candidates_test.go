package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

func TestCandidatesSayWhatAFailureWouldDo(t *testing.T) {
	m := marks.Mark{RunID: "r1", Fault: "gpu"}
	failed := fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "gpu",
		marks.AnnotationGPUFailure: `{"allocatable":4,"failed":4,"taint":"nvidia.com/gpu.unhealthy"}`})
	p, q := gpuPod("p", 1), fixtures.Pod("recsys", "q", "east-2", "1", "1Gi", 1, fixtures.Owned)
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Node("a", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 1),
		fixtures.Node("cordoned", "east", "8", "32Gi", 4, fixtures.Cordoned), fixtures.Node("cpu", "east", "8", "32Gi", 0),
		fixtures.Node("west", "west", "8", "32Gi", 4), fixtures.Node("mine", "east", "8", "32Gi", 0, failed),
		&p, &q)
	f := Failer{Client: c, Allowed: []string{"recsys"}}
	got, err := f.Candidates(t.Context(), objects.NodeFilter{Region: "east"}, Settings{TaintKey: key}, m)
	require.NoError(t, err)
	byName := map[string]evidence.Target{}
	for _, tg := range got {
		byName[tg.Name] = tg
	}
	require.ElementsMatch(t, []string{"a", "east-2", "mine"}, keysOf(byName),
		"GPU nodes of the region, not cordoned by someone else, and the node this fault already failed")
	require.Equal(t, "2 of 2", byName["a"].Labels[LabelGPUs])
	require.Equal(t, "nvidia.com/gpu.unhealthy:NoExecute", byName["a"].Labels[LabelTaint])
	require.Equal(t, "recsys/p", byName["a"].Labels[LabelLostPods])
	require.Equal(t, "east", byName["a"].Labels[objects.LabelRegion], "the node's own labels stay")
	require.Equal(t, "4 of 4", byName["mine"].Labels[LabelGPUs], "a failed node reads its record")

	got, err = f.Candidates(t.Context(), objects.NodeFilter{Selector: labels.SelectorFromSet(labels.Set{objects.LabelRegion: "east"})}, Settings{GPUs: 2, TaintKey: key}, m)
	require.NoError(t, err)
	require.Len(t, got, 2, "gpus: 2 needs two allocatable GPUs")
	require.Equal(t, "2 of 2", got[0].Labels[LabelGPUs])
}

func keysOf(m map[string]evidence.Target) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCheckCountsTheCandidatesThatCanFail(t *testing.T) {
	// a's pod fits on b's free GPU; b's pod has nowhere to go (a has no
	// room); c runs a pod outside safety.namespaces.
	pods := []corev1.Pod{
		fixtures.Pod("recsys", "pa", "a", "1", "1Gi", 1, fixtures.Owned),
		fixtures.Pod("recsys", "pb", "b", "1", "1Gi", 1, fixtures.Owned),
		fixtures.Pod("billing", "pc", "c", "1", "1Gi", 1, fixtures.Owned),
	}
	c := fixtures.Client(t, interceptor.Funcs{}, fixtures.Node("a", "east", "8", "32Gi", 1), fixtures.Node("b", "east", "8", "32Gi", 2),
		fixtures.Node("c", "west", "8", "32Gi", 1), &pods[0], &pods[1], &pods[2])
	f := Failer{Client: c, Allowed: []string{"recsys"}}
	one := v1alpha1.Selection{Mode: v1alpha1.SelectOne}
	refuse := Settings{TaintKey: key, Policy: v1alpha1.CapacityRefuse}
	require.NoError(t, f.Check(t.Context(), objects.NodeFilter{}, one, refuse), "one node can fail")
	err := f.Check(t.Context(), objects.NodeFilter{}, v1alpha1.Selection{Mode: v1alpha1.SelectAll}, refuse)
	require.ErrorContains(t, err, "only 1 of the 3 candidate GPU nodes can lose every GPU, and the step picks 3: ")
	require.ErrorContains(t, err, "insufficient capacity (onInsufficientCapacity: refuse): failing 2 of the 2 GPUs of node b")
	require.ErrorContains(t, err, "node c: it would remove pods outside safety.namespaces: billing/pc")
	err = f.Check(t.Context(), objects.NodeFilter{Region: "west"}, one, Settings{TaintKey: key, Policy: v1alpha1.CapacityWarn})
	require.ErrorContains(t, err, "only 0 of the 1 candidate GPU nodes", "warn does not lift a refusal")
	require.EqualError(t, f.Check(t.Context(), objects.NodeFilter{Region: "north"}, one, refuse),
		"no schedulable GPU node matches with every GPU allocatable to fail")
	require.NoError(t, f.Check(t.Context(), objects.NodeFilter{Region: "east"}, v1alpha1.Selection{Mode: v1alpha1.SelectAll}, Settings{GPUs: 1, Policy: v1alpha1.CapacityWarn}),
		"with warn a shortfall is no refusal")
}
