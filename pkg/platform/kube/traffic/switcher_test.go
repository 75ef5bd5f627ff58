package traffic

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

func newSwitcher(t *testing.T, objs ...runtime.Object) Switcher {
	t.Helper()
	clk := clocktesting.NewFakePassiveClock(fixtures.Epoch)
	return Switcher{
		Client: fixtures.Client(t, interceptor.Funcs{}, objs...), Actions: &action.Runner{Clock: clk}, Clock: clk,
		Namespace: "recsys", Allowed: []string{"recsys"}, Host: "https://127.0.0.1:6443",
	}
}

func cutover(sw *v1alpha1.CutoverSwitch) *v1alpha1.RegionCutover {
	return &v1alpha1.RegionCutover{From: "east", To: "west", Traffic: v1alpha1.TrafficManual, Switch: sw}
}

func TestServiceSwitchRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := newSwitcher(t, fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil))
	rc := cutover(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}})
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	svc := func() *corev1.Service {
		var out corev1.Service
		require.NoError(t, s.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "frontdoor"}, &out))
		return &out
	}

	require.NoError(t, s.Check(ctx, rc, m))
	res, err := s.Switch(ctx, rc, Inject, m)
	require.NoError(t, err)
	require.Equal(t, "traffic switched east→west by Service recsys/frontdoor selector region in 0s", res.Message())
	got := svc()
	require.Equal(t, map[string]string{"app": "recommender", "region": "west"}, got.Spec.Selector)
	require.Equal(t, `{"region":"east"}`, got.Annotations[marks.AnnotationSelector])
	res, err = s.Switch(ctx, rc, Inject, m)
	require.NoError(t, err)
	require.False(t, res.Changed, "a repeated switch changes nothing")
	require.NoError(t, s.Check(ctx, rc, m), "a Service this fault switched passes the check")
	require.ErrorContains(t, s.Check(ctx, rc, marks.Mark{RunID: "r2", Fault: "cutover"}), "traffic switch Service recsys/frontdoor is held by run r1")
	require.NoError(t, s.CheckObjects(ctx, rc), "before a run, whose marks they are is unknown: Check judges")

	held, err := Marked(ctx, s.Client, []string{"recsys"}, marks.Filter{RunID: "r1", FaultID: "cutover"})
	require.NoError(t, err)
	require.Equal(t, []marks.Object{{Target: evidence.Target{Kind: marks.KindService, Name: "recsys/frontdoor"}, RunID: "r1", Fault: "cutover"}}, held)

	res, err = s.Switch(ctx, rc, Revert, m)
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, "traffic failed back west→east by Service recsys/frontdoor selector region in 0s", res.Message())
	got = svc()
	require.Equal(t, map[string]string{"app": "recommender", "region": "east"}, got.Spec.Selector)
	require.NotContains(t, got.Annotations, marks.AnnotationSelector)
	require.NotContains(t, got.Annotations, marks.AnnotationRunID)
	res, err = s.Switch(ctx, rc, Revert, m)
	require.NoError(t, err)
	require.False(t, res.Changed, "a fail-back of a Service this fault did not switch is a no-op")
}

func TestRestoreFromTheMarksAlone(t *testing.T) {
	ctx := t.Context()
	ann := map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationSelector: `{"region":null}`}
	s := newSwitcher(t, fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "west"}, ann))
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	require.NoError(t, s.Restore(ctx, evidence.Target{Kind: marks.KindService, Name: "recsys/frontdoor"}, m))
	var svc corev1.Service
	require.NoError(t, s.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "frontdoor"}, &svc))
	require.Equal(t, map[string]string{"app": "recommender"}, svc.Spec.Selector, "a key that was absent is removed")
	require.NoError(t, s.Restore(ctx, evidence.Target{Kind: marks.KindService, Name: "recsys/frontdoor"}, m), "restoring again is a no-op")
	require.ErrorContains(t, s.Restore(ctx, evidence.Target{Kind: evidence.KindNode, Name: "recsys/x"}, m), "is not a traffic switch object")
}

func TestRouteSwitchRoundTrip(t *testing.T) {
	ctx := t.Context()
	rt := route([]gatewayv1.HTTPBackendRef{backend("rec-east", 90), backend("rec-west", 10)})
	s := newSwitcher(t, rt)
	rc := cutover(&v1alpha1.CutoverSwitch{HTTPRoute: &v1alpha1.HTTPRouteSwitch{Name: "frontdoor",
		Backends: []v1alpha1.RegionBackend{{Region: "east", Service: "rec-east"}, {Region: "west", Service: "rec-west"}}}})
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	get := func() *gatewayv1.HTTPRoute {
		r, err := s.getRoute(ctx, "recsys", "frontdoor")
		require.NoError(t, err)
		return r
	}

	require.NoError(t, s.Check(ctx, rc, m))
	res, err := s.Switch(ctx, rc, Inject, m)
	require.NoError(t, err)
	require.Equal(t, "HTTPRoute recsys/frontdoor weights", res.By)
	r := get()
	require.Equal(t, [][]int32{{0, 100}}, weights(r))
	require.Equal(t, "r1", r.Annotations[marks.AnnotationRunID])
	require.ErrorContains(t, s.Check(ctx, rc, marks.Mark{RunID: "r2", Fault: "cutover"}), "HTTPRoute recsys/frontdoor is held by run r1",
		"a second drill does not take its region down")

	held, err := Marked(ctx, s.Client, []string{"recsys"}, marks.Filter{})
	require.NoError(t, err)
	require.Equal(t, []marks.Object{{Target: evidence.Target{Kind: marks.KindHTTPRoute, Name: "recsys/frontdoor"}, RunID: "r1", Fault: "cutover"}}, held)

	_, err = s.Switch(ctx, rc, Revert, m)
	require.NoError(t, err)
	r = get()
	require.Equal(t, [][]int32{{90, 10}}, weights(r))
	require.NotContains(t, r.Annotations, marks.AnnotationWeights)
}

func TestCheckRefusesASwitchThatCannotWork(t *testing.T) {
	objs := []runtime.Object{fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender"}, nil)}
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
		{name: "an HTTPRoute without the region's backend", sw: v1alpha1.CutoverSwitch{HTTPRoute: &v1alpha1.HTTPRouteSwitch{Name: "frontdoor", Backends: []v1alpha1.RegionBackend{{Region: "north", Service: "a"}, {Region: "west", Service: "b"}}}},
			wantErr: "names no backend for region east or west"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSwitcher(t, append(objs, route([]gatewayv1.HTTPBackendRef{backend("a", 1), backend("b", 1)}))...)
			require.ErrorContains(t, s.Check(t.Context(), cutover(&tt.sw), marks.Mark{RunID: "r1", Fault: "cutover"}), tt.wantErr)
			require.ErrorContains(t, s.CheckObjects(t.Context(), cutover(&tt.sw)), tt.wantErr)
		})
	}
}

func TestActionSwitchLearnsTheDirection(t *testing.T) {
	log := filepath.Join(t.TempDir(), "switch.log")
	s := newSwitcher(t)
	rc := cutover(&v1alpha1.CutoverSwitch{Action: v1alpha1.Action{Command: []string{"sh", "-c",
		`echo "$FIREDRILL_PHASE $FIREDRILL_TRAFFIC_FROM $FIREDRILL_TRAFFIC_TO $FIREDRILL_CUTOVER_FROM $FIREDRILL_CUTOVER_TO $FIREDRILL_RUN_ID $FIREDRILL_STEP" >> ` + log}}})
	m := marks.Mark{RunID: "r1", Fault: "cutover"}
	res, err := s.Switch(t.Context(), rc, Inject, m)
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, "the switch action", res.By)
	_, err = s.Switch(t.Context(), rc, Revert, m)
	require.NoError(t, err)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Equal(t, "inject east west east west r1 cutover\nrevert west east east west r1 cutover\n", string(data))

	rc.Switch.Command = []string{"false"}
	res, err = s.Switch(t.Context(), rc, Inject, m)
	require.ErrorContains(t, err, "switching traffic from east to west")
	require.Contains(t, res.Failure(err), "traffic switch east→west by the switch action FAILED after")
}
