package traffic

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

func service(ns, name string, selector map[string]string, ann map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, ResourceVersion: "7"},
		Spec:       corev1.ServiceSpec{Selector: selector},
	}
}

func TestSelectorSwitchPatch(t *testing.T) {
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	ours := map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationSelector: `{"region":"east"}`}
	tests := []struct {
		name    string
		svc     *corev1.Service
		want    map[string]any
		wantErr string
	}{
		{
			name: "an unmarked Service records the prior value and the marks with the switch",
			svc:  service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil),
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "7", "annotations": map[string]any{
					marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationSelector: `{"region":"east"}`,
				}},
				"spec": map[string]any{"selector": map[string]any{"region": "west"}},
			},
		},
		{
			name: "a selector without the key records that it was absent",
			svc:  service("recsys", "frontdoor", map[string]string{"app": "recommender"}, nil),
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "7", "annotations": map[string]any{
					marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationSelector: `{"region":null}`,
				}},
				"spec": map[string]any{"selector": map[string]any{"region": "west"}},
			},
		},
		{
			name: "a Service this fault already switched needs nothing",
			svc:  service("recsys", "frontdoor", map[string]string{"region": "west"}, ours),
		},
		{
			name: "a Service this fault switched and someone switched back is switched again, keeping the record",
			svc:  service("recsys", "frontdoor", map[string]string{"region": "east"}, ours),
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "7"},
				"spec":     map[string]any{"selector": map[string]any{"region": "west"}},
			},
		},
		{
			name:    "a Service another run switched is refused",
			svc:     service("recsys", "frontdoor", map[string]string{"region": "west"}, map[string]string{marks.AnnotationRunID: "r0", marks.AnnotationFault: "cutover"}),
			wantErr: "held by run r0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectorSwitchPatch(tt.svc, "region", "west", m)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSelectorRestorePatch(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		want    map[string]any
		wantErr string
	}{
		{
			name: "the recorded value is restored and the marks removed",
			ann:  map[string]string{marks.AnnotationSelector: `{"region":"east"}`},
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "9", "annotations": map[string]any{marks.AnnotationRunID: nil, marks.AnnotationFault: nil, marks.AnnotationHeartbeat: nil, marks.AnnotationSelector: nil}},
				"spec":     map[string]any{"selector": map[string]any{"region": "east"}},
			},
		},
		{
			name: "a key that was absent is removed",
			ann:  map[string]string{marks.AnnotationSelector: `{"region":null}`},
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "9", "annotations": map[string]any{marks.AnnotationRunID: nil, marks.AnnotationFault: nil, marks.AnnotationHeartbeat: nil, marks.AnnotationSelector: nil}},
				"spec":     map[string]any{"selector": map[string]any{"region": nil}},
			},
		},
		{name: "a missing record is an error", ann: map[string]string{}, wantErr: "prior selector is unknown"},
		{name: "a garbled record is an error", ann: map[string]string{marks.AnnotationSelector: `east`}, wantErr: "is not a selector record"},
		{name: "an empty record is an error", ann: map[string]string{marks.AnnotationSelector: `{}`}, wantErr: "is not a selector record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectorRestorePatch(tt.ann, "9")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// backend is a backendRef to a Service; weight -1 leaves it unset.
func backend(name string, weight int32) gatewayv1.HTTPBackendRef {
	ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name)}}}
	if weight >= 0 {
		ref.Weight = ptr.To(weight)
	}
	return ref
}

func route(rules ...[]gatewayv1.HTTPBackendRef) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "frontdoor"}}
	for _, refs := range rules {
		r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{BackendRefs: refs})
	}
	return r
}

// weights reads every rule's weights; -1 is unset.
func weights(r *gatewayv1.HTTPRoute) [][]int32 {
	var out [][]int32
	for _, rule := range r.Spec.Rules {
		var ws []int32
		for _, b := range rule.BackendRefs {
			w := int32(-1)
			if b.Weight != nil {
				w = *b.Weight
			}
			ws = append(ws, w)
		}
		out = append(out, ws)
	}
	return out
}

func TestSwitchedWeights(t *testing.T) {
	other := backend("east", 100)
	other.Namespace = ptr.To(gatewayv1.Namespace("elsewhere"))
	tests := []struct {
		name      string
		route     *gatewayv1.HTTPRoute
		want      [][]int32
		wantPrior int
		wantErr   string
	}{
		{name: "an active/standby pair swaps", route: route([]gatewayv1.HTTPBackendRef{backend("east", 100), backend("west", 0)}),
			want: [][]int32{{0, 100}}, wantPrior: 2},
		{name: "an even split moves the whole share", route: route([]gatewayv1.HTTPBackendRef{backend("east", 50), backend("west", 50)}),
			want: [][]int32{{0, 100}}, wantPrior: 2},
		{name: "unset weights count as the API default of 1", route: route([]gatewayv1.HTTPBackendRef{backend("east", -1), backend("west", -1)}),
			want: [][]int32{{0, 2}}, wantPrior: 2},
		{name: "a third region keeps its share", route: route([]gatewayv1.HTTPBackendRef{backend("east", 50), backend("west", 25), backend("central", 25)}),
			want: [][]int32{{0, 75, 25}}, wantPrior: 2},
		{name: "several surviving backends split the lost weight, the remainder to the first",
			route: route([]gatewayv1.HTTPBackendRef{backend("east", 5), backend("west", 0), backend("west", 0)}),
			want:  [][]int32{{0, 3, 2}}, wantPrior: 3},
		{name: "rules without the lost region are left alone",
			route: route([]gatewayv1.HTTPBackendRef{backend("east", 10), backend("west", 0)}, []gatewayv1.HTTPBackendRef{backend("central", 1)}),
			want:  [][]int32{{0, 10}, {1}}, wantPrior: 2},
		{name: "a rule that already sends the lost region nothing is left alone",
			route: route([]gatewayv1.HTTPBackendRef{backend("east", 0), backend("west", 10)}),
			want:  [][]int32{{0, 10}}, wantPrior: 0},
		{name: "a backendRef to another namespace's Service of the same name is not the region's",
			route: route([]gatewayv1.HTTPBackendRef{other, backend("west", 0)}), wantErr: "has no backendRef to Service east"},
		{name: "a rule that would drop the lost region's traffic is refused",
			route: route([]gatewayv1.HTTPBackendRef{backend("east", 10)}), wantErr: "rule 0 sends traffic to east but has no backendRef to west"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.route.DeepCopy()
			prior, err := switchedWeights(r, "east", "west")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, weights(r))
			require.Len(t, prior, tt.wantPrior)

			// The record restores the route exactly.
			r.Annotations = map[string]string{marks.AnnotationWeights: mustJSON(t, prior)}
			require.NoError(t, restoreWeights(r))
			require.Equal(t, weights(tt.route), weights(r))
		})
	}
}

func TestRestoreWeightsRefusesAChangedRoute(t *testing.T) {
	r := route([]gatewayv1.HTTPBackendRef{backend("west", 100), backend("east", 0)})
	r.Annotations = map[string]string{marks.AnnotationWeights: `[{"rule":0,"backend":0,"service":"east","weight":100}]`}
	require.ErrorContains(t, restoreWeights(r), "rule 0 backendRef 0 is no longer Service east")
	r.Annotations[marks.AnnotationWeights] = `[{"rule":3,"backend":0,"service":"east","weight":100}]`
	require.ErrorContains(t, restoreWeights(r), "no longer Service east")
	delete(r.Annotations, marks.AnnotationWeights)
	require.ErrorContains(t, restoreWeights(r), "prior weights are unknown")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}
