package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

func service(ns, name string, selector map[string]string, ann map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, ResourceVersion: "7"},
		Spec:       corev1.ServiceSpec{Selector: selector},
	}
}

func TestSelectorSwitchPatch(t *testing.T) {
	m := mark{RunID: "r1", Fault: "cutover"}
	ours := map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationSelector: `{"region":"east"}`}
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
					AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationSelector: `{"region":"east"}`,
				}},
				"spec": map[string]any{"selector": map[string]any{"region": "west"}},
			},
		},
		{
			name: "a selector without the key records that it was absent",
			svc:  service("recsys", "frontdoor", map[string]string{"app": "recommender"}, nil),
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "7", "annotations": map[string]any{
					AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationSelector: `{"region":null}`,
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
			svc:     service("recsys", "frontdoor", map[string]string{"region": "west"}, map[string]string{AnnotationRunID: "r0", AnnotationFault: "cutover"}),
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
			ann:  map[string]string{AnnotationSelector: `{"region":"east"}`},
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "9", "annotations": map[string]any{AnnotationRunID: nil, AnnotationFault: nil, AnnotationSelector: nil}},
				"spec":     map[string]any{"selector": map[string]any{"region": "east"}},
			},
		},
		{
			name: "a key that was absent is removed",
			ann:  map[string]string{AnnotationSelector: `{"region":null}`},
			want: map[string]any{
				"metadata": map[string]any{"resourceVersion": "9", "annotations": map[string]any{AnnotationRunID: nil, AnnotationFault: nil, AnnotationSelector: nil}},
				"spec":     map[string]any{"selector": map[string]any{"region": nil}},
			},
		},
		{name: "a missing record is an error", ann: map[string]string{}, wantErr: "prior selector is unknown"},
		{name: "a garbled record is an error", ann: map[string]string{AnnotationSelector: `east`}, wantErr: "is not a selector record"},
		{name: "an empty record is an error", ann: map[string]string{AnnotationSelector: `{}`}, wantErr: "is not a selector record"},
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
			r.Annotations = map[string]string{AnnotationWeights: mustJSON(t, prior)}
			require.NoError(t, restoreWeights(r))
			require.Equal(t, weights(tt.route), weights(r))
		})
	}
}

func TestRestoreWeightsRefusesAChangedRoute(t *testing.T) {
	r := route([]gatewayv1.HTTPBackendRef{backend("west", 100), backend("east", 0)})
	r.Annotations = map[string]string{AnnotationWeights: `[{"rule":0,"backend":0,"service":"east","weight":100}]`}
	require.ErrorContains(t, restoreWeights(r), "rule 0 backendRef 0 is no longer Service east")
	r.Annotations[AnnotationWeights] = `[{"rule":3,"backend":0,"service":"east","weight":100}]`
	require.ErrorContains(t, restoreWeights(r), "no longer Service east")
	delete(r.Annotations, AnnotationWeights)
	require.ErrorContains(t, restoreWeights(r), "prior weights are unknown")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

// newSwitchFake is newFake with the Gateway API in the controller-runtime
// client's scheme.
func newSwitchFake(t *testing.T, spec *v1alpha1.DrillPlanSpec, objs []runtime.Object, ctrlObjs ...runtime.Object) (*Platform, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	scheme, err := NewScheme()
	require.NoError(t, err)
	require.NoError(t, addGatewayAPI(scheme))
	c := ctrlfake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(ctrlObjs...).Build()
	p := newPlatform(Options{Spec: spec}, nil, cs, c, cs.Discovery())
	p.meta = fakeMetadata(objs...)
	return p, cs
}

func cutoverSpec(sw *v1alpha1.CutoverSwitch, method v1alpha1.CutoverMethod) *v1alpha1.DrillPlanSpec {
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		Steps: []v1alpha1.Step{{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
			From: "east", To: "west", Traffic: v1alpha1.TrafficManual, Method: method, Switch: sw,
		}}}},
	}
}

func TestServiceSwitchRunsAfterTheLastTargetAndFailsBack(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	objs := []runtime.Object{
		node("west-1", "west", "8", "32Gi", 2),
		service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil),
		deployment("recsys", "recommender-east-a", 2, map[string]string{"app": "recommender", "region": "east"}),
		deployment("recsys", "recommender-east-b", 2, map[string]string{"app": "recommender", "region": "east"}),
		deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"}),
	}
	p, cs := newSwitchFake(t, spec, objs)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	svc := func() *corev1.Service {
		s, err := cs.CoreV1().Services("recsys").Get(ctx, "frontdoor", metav1.GetOptions{})
		require.NoError(t, err)
		return s
	}

	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 2)
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	require.Equal(t, "east", svc().Spec.Selector["region"], "traffic stays until the whole region is down")
	require.NoError(t, p.Inject(ctx, f, targets[1]))
	s := svc()
	require.Equal(t, map[string]string{"app": "recommender", "region": "west"}, s.Spec.Selector)
	require.Equal(t, `{"region":"east"}`, s.Annotations[AnnotationSelector])
	require.Equal(t, "r1", s.Annotations[AnnotationRunID])
	require.NoError(t, p.Inject(ctx, f, targets[1]), "inject is idempotent")

	marked, err := markedSwitches(ctx, p, markFilter{runID: "r1", faultID: "cutover"})
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{Target: platform.Target{Kind: KindService, Name: "recsys/frontdoor"}, RunID: "r1", Fault: "cutover"}}, marked)

	require.NoError(t, p.Revert(ctx, f, targets[0]))
	require.Equal(t, "west", svc().Spec.Selector["region"], "no fail-back while part of the region is down")
	require.NoError(t, p.Revert(ctx, f, targets[1]))
	s = svc()
	require.Equal(t, map[string]string{"app": "recommender", "region": "east"}, s.Spec.Selector)
	require.NotContains(t, s.Annotations, AnnotationSelector)
	require.NotContains(t, s.Annotations, AnnotationRunID)
	require.Contains(t, p.Notes(f)[0], "traffic switched east→west by Service recsys/frontdoor selector region")
}

func TestServiceSwitchIsRecoveredAfterACrash(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	objs := []runtime.Object{
		node("west-1", "west", "8", "32Gi", 2),
		service("recsys", "frontdoor", map[string]string{"region": "east"}, nil),
		deployment("recsys", "recommender-east", 2, map[string]string{"region": "east"}),
	}
	crashed, cs := newSwitchFake(t, spec, objs)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	targets, err := crashed.Targets(ctx, f)
	require.NoError(t, err)
	require.NoError(t, crashed.Inject(ctx, f, targets[0]))

	// A new process, with no memory of the switch, recovers from the marks.
	later := newPlatform(Options{Spec: spec}, nil, cs, crashed.client, cs.Discovery())
	require.NoError(t, later.Recover(ctx, f, nil))
	s, err := cs.CoreV1().Services("recsys").Get(ctx, "frontdoor", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "east", s.Spec.Selector["region"])
	require.NotContains(t, s.Annotations, AnnotationRunID)

	// restoreSwitch (RecoverAll without a journal) is a no-op now.
	require.NoError(t, later.restoreSwitch(ctx, platform.Target{Kind: KindService, Name: "recsys/frontdoor"}, mark{RunID: "r1", Fault: "cutover"}))
}

func TestRouteSwitchRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := &v1alpha1.HTTPRouteSwitch{Name: "frontdoor", Backends: []v1alpha1.RegionBackend{{Region: "east", Service: "rec-east"}, {Region: "west", Service: "rec-west"}}}
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{HTTPRoute: h}, v1alpha1.CutoverScaleToZero)
	rt := route([]gatewayv1.HTTPBackendRef{backend("rec-east", 90), backend("rec-west", 10)})
	p, _ := newSwitchFake(t, spec, []runtime.Object{node("west-1", "west", "8", "32Gi", 2), deployment("recsys", "recommender-east", 2, map[string]string{"region": "east"})}, rt)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	get := func() *gatewayv1.HTTPRoute {
		r, err := p.getRoute(ctx, "recsys", "frontdoor")
		require.NoError(t, err)
		return r
	}

	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	r := get()
	require.Equal(t, [][]int32{{0, 100}}, weights(r))
	require.Equal(t, "r1", r.Annotations[AnnotationRunID])

	marked, err := markedSwitches(ctx, p, markFilter{})
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{Target: platform.Target{Kind: KindHTTPRoute, Name: "recsys/frontdoor"}, RunID: "r1", Fault: "cutover"}}, marked)

	other := platform.Fault{ID: "cutover", RunID: "r2", Spec: f.Spec}
	_, err = p.Targets(ctx, other)
	require.ErrorContains(t, err, "HTTPRoute recsys/frontdoor is held by run r1", "a second drill does not take its region down")

	require.NoError(t, p.Revert(ctx, f, targets[0]))
	r = get()
	require.Equal(t, [][]int32{{90, 10}}, weights(r))
	require.NotContains(t, r.Annotations, AnnotationWeights)
}

func TestSwitchChecksBeforeTheRegionGoesDown(t *testing.T) {
	ctx := context.Background()
	objs := []runtime.Object{
		node("west-1", "west", "8", "32Gi", 2),
		service("recsys", "frontdoor", map[string]string{"app": "recommender"}, nil),
	}
	tests := []struct {
		name    string
		sw      v1alpha1.CutoverSwitch
		wantErr string
	}{
		{name: "a missing Service", sw: v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "nope"}}, wantErr: `getting traffic switch Service recsys/nope: services "nope" not found`},
		{name: "a selector without the key", sw: v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, wantErr: "has no selector key region"},
		{name: "a Service outside safety.namespaces", sw: v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor", Namespace: "kube-system"}}, wantErr: "not in safety.namespaces"},
		{name: "a missing HTTPRoute", sw: v1alpha1.CutoverSwitch{HTTPRoute: &v1alpha1.HTTPRouteSwitch{Name: "nope", Backends: []v1alpha1.RegionBackend{{Region: "east", Service: "a"}, {Region: "west", Service: "b"}}}},
			wantErr: "getting HTTPRoute recsys/nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := cutoverSpec(&tt.sw, v1alpha1.CutoverDrain)
			p, _ := newSwitchFake(t, spec, objs)
			_, err := p.Targets(ctx, platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestRegionPendingIsLinear injects a 100-workload cutover and counts the
// GETs: the check for the region's last target must not GET every target
// on every inject (that was 100×99/2 = 4,950 GETs here).
func TestRegionPendingIsLinear(t *testing.T) {
	ctx := context.Background()
	const n = 100
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	objs := []runtime.Object{node("west-1", "west", "8", "32Gi", 2), service("recsys", "frontdoor", map[string]string{"region": "east"}, nil)}
	for i := range n {
		objs = append(objs, deployment("recsys", fmt.Sprintf("rec-%03d", i), 1, map[string]string{"region": "east"}))
	}
	for _, started := range []bool{false, true} {
		t.Run(fmt.Sprintf("informers started %v", started), func(t *testing.T) {
			p, cs := newSwitchFake(t, spec, objs)
			if started {
				_, err := p.Start(ctx)
				require.NoError(t, err)
				defer func() { require.NoError(t, p.Stop(ctx)) }()
			}
			f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
			targets, err := p.Targets(ctx, f)
			require.NoError(t, err)
			require.Len(t, targets, n)
			cs.ClearActions()
			for i, tg := range targets {
				require.NoError(t, p.Inject(ctx, f, tg))
				if i < n-1 {
					require.Equal(t, "east", svcSelector(ctx, t, cs), "switched before target %d of %d", i+1, n)
				}
			}
			require.Equal(t, "west", svcSelector(ctx, t, cs))
			gets, lists := 0, 0
			for _, a := range cs.Actions() {
				if a.GetResource().Resource == "services" {
					continue // the test's own reads and the switch
				}
				switch a.GetVerb() {
				case "get":
					gets++
				case "list":
					lists++
				}
			}
			t.Logf("%d targets: %d GETs, %d LISTs", n, gets, lists)
			// scaleToZero GETs each workload once; the pending check adds
			// at most one GET per inject, and one List when the informers
			// are not running.
			require.LessOrEqual(t, gets, 2*n+5)
			require.LessOrEqual(t, lists, 2*n+5)
		})
	}
}

func svcSelector(ctx context.Context, t *testing.T, cs *fake.Clientset) string {
	t.Helper()
	s, err := cs.CoreV1().Services("recsys").Get(ctx, "frontdoor", metav1.GetOptions{})
	require.NoError(t, err)
	return s.Spec.Selector["region"]
}
