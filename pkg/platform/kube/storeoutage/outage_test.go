package storeoutage

import (
	"path/filepath"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
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
			nc, err := StoreChaos(&tt.outage, mark, store, s)
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
			var served []string
			if tt.chaosMesh {
				served = []string{"PodChaos", "NetworkChaos"}
			}
			o := newOutage(t, &v1alpha1.DrillPlanSpec{}, served)
			err := o.CheckMode(&tt.outage)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantMethod, Method(&tt.outage))
		})
	}
}

func TestOutageByChaosMesh(t *testing.T) {
	ctx := t.Context()
	spec := netpolSpec()
	o := newOutage(t, spec, []string{"NetworkChaos"}, netpolObjects()...)
	out := &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang, Method: v1alpha1.OutageChaosMesh}
	store, err := o.StoreRef()
	require.NoError(t, err)

	objs, err := o.Objects(ctx, out, mark)
	require.NoError(t, err)
	require.Equal(t, []string{"NetworkChaos/recsys/firedrill-r1-store"}, objs)

	var obs observer
	require.NoError(t, o.Inject(ctx, out, store, mark, &obs))
	require.NoError(t, o.Inject(ctx, out, store, mark, &obs), "a repeated inject finds its own object")
	var nc chaosv1alpha1.NetworkChaos
	require.NoError(t, o.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "firedrill-r1-store"}, &nc))
	require.Equal(t, chaosv1alpha1.LossAction, nc.Spec.Action)
	require.Equal(t, "r1", nc.Annotations[marks.AnnotationRunID])
	require.Contains(t, obs.notes[0], "NetworkChaos/recsys/firedrill-r1-store reported AllInjected")

	require.NoError(t, o.Revert(ctx, out, store, mark))
	err = o.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "firedrill-r1-store"}, &nc)
	require.True(t, apierrors.IsNotFound(err), "revert deletes the NetworkChaos")
}

func TestOutageByScaleToZero(t *testing.T) {
	ctx := t.Context()
	o := newOutage(t, netpolSpec(), nil, netpolObjects()...)
	store, err := o.StoreRef()
	require.NoError(t, err)
	var obs observer
	require.NoError(t, o.Inject(ctx, &v1alpha1.ModelStoreOutage{}, store, mark, &obs))
	replicas := func() int32 {
		var d appsv1.Deployment
		require.NoError(t, o.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "model-store"}, &d))
		return *d.Spec.Replicas
	}
	require.Equal(t, int32(0), replicas())
	require.Equal(t, 1, obs.effects)
	require.NoError(t, o.Revert(ctx, nil, store, mark), "without the plan the store is restored from its marks")
	require.Equal(t, int32(1), replicas())

	o.System.ModelStore = nil
	_, err = o.StoreRef()
	require.ErrorContains(t, err, "needs system.modelStore.workload")
	o.System.ModelStore = &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store", Namespace: "storage"}}
	_, err = o.StoreRef()
	require.ErrorContains(t, err, "namespace storage is not in safety.namespaces")
}
