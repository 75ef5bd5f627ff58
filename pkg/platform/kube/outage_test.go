package kube

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func TestStoreChaos(t *testing.T) {
	store := v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"}
	sel := &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "model-store"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"store"}}},
	}
	tests := []struct {
		name     string
		outage   v1alpha1.ModelStoreOutage
		selector *metav1.LabelSelector
		golden   string
		wantErr  string
	}{
		{name: "a slow store delays every packet its pods send by the latency",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow, Latency: &metav1.Duration{Duration: 90 * time.Second}},
			golden: "networkchaos-slow.yaml"},
		{name: "a hung store loses every packet its pods send, in one region",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang, Region: "us-east"},
			golden: "networkchaos-hang-region.yaml"},
		{name: "an unavailable store is a store that loses every packet",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Method: v1alpha1.OutageChaosMesh},
			golden: "networkchaos-unavailable.yaml"},
		{name: "slow without a latency is refused",
			outage:  v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow},
			wantErr: "needs a latency"},
		{name: "a store with an empty selector is refused",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang}, selector: &metav1.LabelSelector{},
			wantErr: "would select every pod of recsys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sel
			if tt.selector != nil {
				s = tt.selector
			}
			nc, err := storeChaos(storeFault(&tt.outage), store, s)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			golden.Assert(t, filepath.Join("testdata", tt.golden), toYAML(t, nc))
		})
	}
}

func TestCheckOutageMode(t *testing.T) {
	tests := []struct {
		name       string
		outage     v1alpha1.ModelStoreOutage
		chaosMesh  bool
		wantErr    string
		wantMethod v1alpha1.OutageMethod
	}{
		{name: "unavailable defaults to scaleToZero", wantMethod: v1alpha1.OutageScaleToZero},
		{name: "networkPolicy makes a store unavailable",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Method: v1alpha1.OutageNetworkPolicy}, wantMethod: v1alpha1.OutageNetworkPolicy},
		{name: "slow defaults to chaosMesh",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow}, chaosMesh: true, wantMethod: v1alpha1.OutageChaosMesh},
		{name: "slow with scaleToZero is refused",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow, Method: v1alpha1.OutageScaleToZero}, chaosMesh: true,
			wantErr: "a slow or hung store needs method chaosMesh"},
		{name: "hang with networkPolicy is refused",
			outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang, Method: v1alpha1.OutageNetworkPolicy}, chaosMesh: true,
			wantErr: "a slow or hung store needs method chaosMesh"},
		{name: "chaosMesh on a cluster without Chaos Mesh says so before anything runs",
			outage:  v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang},
			wantErr: "model store outage mode hang with method chaosMesh: fault not supported by this platform on this cluster: chaos mesh is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, cs := newFake(t, &v1alpha1.DrillPlanSpec{})
			if tt.chaosMesh {
				serveChaosMesh(cs)
			}
			err := p.checkOutageMode(context.Background(), &tt.outage)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantMethod, outageMethod(&tt.outage))
		})
	}
}

func serveChaosMesh(cs *fake.Clientset) {
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "chaos-mesh.org/v1alpha1",
		APIResources: []metav1.APIResource{{Name: "podchaos", Kind: "PodChaos"}, {Name: "networkchaos", Kind: "NetworkChaos"}},
	}}
}

// TestStoreOutageByChaosMesh runs a hang outage with a fake client whose
// Create plays Chaos Mesh's part and reports the object injected.
func TestStoreOutageByChaosMesh(t *testing.T) {
	ctx := context.Background()
	spec := netpolSpec()
	spec.System.Workloads = spec.System.Workloads[:2]
	cs := fake.NewClientset(netpolObjects()...)
	serveChaosMesh(cs)
	scheme, err := NewScheme()
	require.NoError(t, err)
	c := ctrlfake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if nc, ok := obj.(*chaosv1alpha1.NetworkChaos); ok {
				nc.Status.Conditions = []chaosv1alpha1.ChaosCondition{{Type: chaosv1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	p := newPlatform(Options{Spec: spec, PollInterval: 10 * time.Millisecond, ChaosTimeout: time.Second}, nil, cs, c, cs.Discovery())
	f := storeFault(&v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang, Method: v1alpha1.OutageChaosMesh, RestartReplicas: 1})
	target := platform.Target{Kind: KindStore, Name: "Deployment/recsys/model-store"}

	objs, err := p.StoreOutageObjects(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []string{"NetworkChaos/recsys/firedrill-r1-store"}, objs)

	require.NoError(t, p.Inject(ctx, f, target))
	require.NoError(t, p.Inject(ctx, f, target), "a repeated inject finds its own object")
	var nc chaosv1alpha1.NetworkChaos
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "firedrill-r1-store"}, &nc))
	require.Equal(t, chaosv1alpha1.LossAction, nc.Spec.Action)
	require.Equal(t, "r1", nc.Annotations[AnnotationRunID])
	_, err = cs.CoreV1().Pods("recsys").Get(ctx, "east-1-pod", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "restartReplicas works with method chaosMesh")

	marked, err := p.Marked(ctx, "r1", "")
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{Target: platform.Target{Kind: KindChaos, Name: "NetworkChaos/recsys/firedrill-r1-store"}, RunID: "r1", Fault: "store"}}, marked)

	require.NoError(t, p.Revert(ctx, f, target))
	err = c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "firedrill-r1-store"}, &nc)
	require.True(t, apierrors.IsNotFound(err), "revert deletes the NetworkChaos")

	// An object of the same name that another run created is not adopted.
	other := nc.DeepCopy()
	other.ResourceVersion = ""
	other.Annotations = map[string]string{AnnotationRunID: "someone-else", AnnotationFault: "store"}
	require.NoError(t, c.Create(ctx, other))
	require.ErrorContains(t, p.Inject(ctx, f, target), `was not created by run r1 step store (it carries run "someone-else"`)
}

func TestMarkFilterCreated(t *testing.T) {
	annotated := &metav1.ObjectMeta{
		Labels:      map[string]string{LabelRunID: "20261202T0900Z-abc", LabelFault: "kill"},
		Annotations: map[string]string{AnnotationRunID: "20261202T0900Z-abc", AnnotationFault: "kill"},
	}
	// Objects of earlier versions carry the sanitised labels only.
	labelled := &metav1.ObjectMeta{Labels: map[string]string{LabelRunID: "run-1", LabelFault: "kill-one"}}
	tests := []struct {
		name   string
		obj    *metav1.ObjectMeta
		filter markFilter
		want   bool
	}{
		{name: "an annotated object matches its exact run", obj: annotated, filter: markFilter{runID: "20261202T0900Z-abc", faultID: "kill"}, want: true},
		{name: "an annotated object does not match another run", obj: annotated, filter: markFilter{runID: "20261202T0900Z-abd"}},
		{name: "an empty filter matches every created object", obj: annotated, want: true},
		{name: "a labelled object matches the run its label was made from", obj: labelled, filter: markFilter{runID: "run/1", faultID: "kill one"}, want: true},
		{name: "a labelled object does not match another run", obj: labelled, filter: markFilter{runID: "run-2"}},
		{name: "an object firedrill did not create never matches", obj: &metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := tt.filter.created(tt.obj)
			require.Equal(t, tt.want, ok)
		})
	}
}
