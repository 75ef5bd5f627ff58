package kube

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
)

func TestOwnership(t *testing.T) {
	m := mark{RunID: "r1", Fault: "drain"}
	tests := []struct {
		name string
		ann  map[string]string
		want ownership
	}{
		{name: "no annotations is unowned", want: unowned},
		{name: "an empty run id is unowned", ann: map[string]string{AnnotationRunID: ""}, want: unowned},
		{name: "the same run and fault is ours", ann: map[string]string{AnnotationRunID: "r1", AnnotationFault: "drain"}, want: ours},
		{name: "another fault of the same run is foreign", ann: map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover"}, want: foreign},
		{name: "another run is foreign", ann: map[string]string{AnnotationRunID: "r0", AnnotationFault: "drain"}, want: foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ownershipOf(tt.ann, m))
		})
	}
}

// applyPatch applies a merge patch to a node, as the API server would.
func applyPatch(t *testing.T, n *corev1.Node, patch map[string]any) *corev1.Node {
	t.Helper()
	orig, err := json.Marshal(n)
	require.NoError(t, err)
	p, err := json.Marshal(patch)
	require.NoError(t, err)
	out, err := jsonpatch.MergePatch(orig, p)
	require.NoError(t, err)
	var got corev1.Node
	require.NoError(t, json.Unmarshal(out, &got))
	return &got
}

func TestCordonRoundTripRestoresThePriorState(t *testing.T) {
	m := mark{RunID: "r1", Fault: "drain"}
	tests := []struct {
		name             string
		wasUnschedulable bool
		extra            map[string]string
	}{
		{name: "a schedulable node is schedulable again"},
		{name: "a node that was cordoned stays cordoned", wasUnschedulable: true},
		{name: "other annotations survive", extra: map[string]string{"team": "recsys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := node("a", "east", "8", "32Gi", 1, annotatedNode(tt.extra))
			n.Spec.Unschedulable = tt.wasUnschedulable
			before := n.DeepCopy()
			cordonedNode := applyPatch(t, n, cordonPatch(m, n.Spec.Unschedulable, "7"))
			require.True(t, cordonedNode.Spec.Unschedulable)
			require.Equal(t, ours, ownershipOf(cordonedNode.Annotations, m))
			restored := applyPatch(t, cordonedNode, uncordonPatch(cordonedNode.Annotations, "8"))
			require.Equal(t, before.Spec, restored.Spec)
			require.Equal(t, len(tt.extra), len(restored.Annotations))
			for k, v := range tt.extra {
				require.Equal(t, v, restored.Annotations[k])
			}
		})
	}
}

func TestPriorReplicas(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		want    int32
		wantErr string
	}{
		{name: "a recorded count is read", ann: map[string]string{AnnotationReplicas: "3"}, want: 3},
		{name: "zero is a count", ann: map[string]string{AnnotationReplicas: "0"}, want: 0},
		{name: "a missing record is an error", wantErr: "is missing"},
		{name: "garbage is an error", ann: map[string]string{AnnotationReplicas: "three"}, wantErr: "not a replica count"},
		{name: "a negative count is an error", ann: map[string]string{AnnotationReplicas: "-1"}, wantErr: "not a replica count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := priorReplicas(tt.ann)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
