package marks

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/evidence"
)

func TestOwnership(t *testing.T) {
	m := Mark{RunID: "r1", Fault: "drain"}
	tests := []struct {
		name string
		ann  map[string]string
		want Ownership
	}{
		{name: "no annotations is unowned", want: Unowned},
		{name: "an empty run id is unowned", ann: map[string]string{AnnotationRunID: ""}, want: Unowned},
		{name: "the same run and fault is ours", ann: map[string]string{AnnotationRunID: "r1", AnnotationFault: "drain"}, want: Ours},
		{name: "another fault of the same run is foreign", ann: map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover"}, want: Foreign},
		{name: "another run is foreign", ann: map[string]string{AnnotationRunID: "r0", AnnotationFault: "drain"}, want: Foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, OwnershipOf(tt.ann, m))
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
	m := Mark{RunID: "r1", Fault: "drain"}
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
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"topology.kubernetes.io/region": "east"}, Annotations: tt.extra}}
			n.Spec.Unschedulable = tt.wasUnschedulable
			before := n.DeepCopy()
			cordonedNode := applyPatch(t, n, CordonPatch(m, n.Spec.Unschedulable, "7"))
			require.True(t, cordonedNode.Spec.Unschedulable)
			require.Equal(t, Ours, OwnershipOf(cordonedNode.Annotations, m))
			restored := applyPatch(t, cordonedNode, UncordonPatch(cordonedNode.Annotations, "8"))
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
			got, err := PriorReplicas(tt.ann)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFilterCreated(t *testing.T) {
	annotated := &metav1.ObjectMeta{
		Labels:      map[string]string{LabelRunID: "20261202T0900Z-abc", LabelFault: "kill"},
		Annotations: map[string]string{AnnotationRunID: "20261202T0900Z-abc", AnnotationFault: "kill"},
	}
	// Objects of earlier versions carry the sanitised labels only.
	labelled := &metav1.ObjectMeta{Labels: map[string]string{LabelRunID: "run-1", LabelFault: "kill-one"}}
	tests := []struct {
		name   string
		obj    *metav1.ObjectMeta
		filter Filter
		want   bool
	}{
		{name: "an annotated object matches its exact run", obj: annotated, filter: Filter{RunID: "20261202T0900Z-abc", FaultID: "kill"}, want: true},
		{name: "an annotated object does not match another run", obj: annotated, filter: Filter{RunID: "20261202T0900Z-abd"}},
		{name: "an empty filter matches every created object", obj: annotated, want: true},
		{name: "a labelled object matches the run its label was made from", obj: labelled, filter: Filter{RunID: "run/1", FaultID: "kill one"}, want: true},
		{name: "a labelled object does not match another run", obj: labelled, filter: Filter{RunID: "run-2"}},
		{name: "an object firedrill did not create never matches", obj: &metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := tt.filter.Created(tt.obj)
			require.Equal(t, tt.want, ok)
		})
	}
}

func TestCreatedMarksAreFoundAgain(t *testing.T) {
	obj := &metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}
	m := Mark{RunID: "20261207T1200Z/abc", Fault: "lose store"}
	Created(obj, m)
	require.Equal(t, "20261207T1200Z-abc", obj.Labels[LabelRunID], "labels hold valid label values")
	require.Equal(t, "x", obj.Labels["app"], "other labels stay")
	require.True(t, CreatedBy(obj, m))
	require.False(t, CreatedBy(obj, Mark{RunID: "20261207T1200Z/abc", Fault: "other"}))
	got, ok := Filter{RunID: m.RunID}.Created(obj)
	require.True(t, ok)
	require.Equal(t, m, got, "the annotations hold the run verbatim")
}

func TestHeldErrorNamesTheOwner(t *testing.T) {
	err := HeldError("node a", map[string]string{AnnotationRunID: "r0", AnnotationFault: "drain"})
	require.EqualError(t, err, "node a is held by run r0 (step drain); run drill cleanup if that run is dead")
}

func TestTheHeartbeatTravelsWithTheMarksButNotWithOwnership(t *testing.T) {
	m := Mark{RunID: "r1", Fault: "drain", Heartbeat: "recsys/firedrill-run-r1"}
	n := applyPatch(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, CordonPatch(m, false, "7"))
	require.Equal(t, "recsys/firedrill-run-r1", n.Annotations[AnnotationHeartbeat])
	got, ok := Owner(n.Annotations)
	require.True(t, ok)
	require.Equal(t, m, got)
	require.Equal(t, m.On(evidence.Target{Kind: evidence.KindNode, Name: "a"}),
		Object{Target: evidence.Target{Kind: evidence.KindNode, Name: "a"}, RunID: "r1", Fault: "drain", Heartbeat: "recsys/firedrill-run-r1"})
	require.Equal(t, Ours, OwnershipOf(n.Annotations, Mark{RunID: "r1", Fault: "drain"}), "a mark without heartbeat is the same run and fault")
	require.Equal(t, Ours, OwnershipOf(map[string]string{AnnotationRunID: "r1", AnnotationFault: "drain"}, m), "so is one written before heartbeats")

	restored := applyPatch(t, n, UncordonPatch(n.Annotations, "8"))
	require.Empty(t, restored.Annotations, "unmarking removes the heartbeat too")

	np := &corev1.ConfigMap{}
	Created(np, m)
	require.Equal(t, m.Annotations(), np.Annotations)
	require.True(t, CreatedBy(np, Mark{RunID: "r1", Fault: "drain"}))
	require.Equal(t, map[string]string{AnnotationRunID: "r1", AnnotationFault: "drain"}, Mark{RunID: "r1", Fault: "drain"}.Annotations(),
		"a mark without a heartbeat writes none")
}
