package kube

import (
	"context"
	"testing"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

// storeSpec is a plan with inference workloads in two regions and a model
// store.
func storeSpec() *v1alpha1.DrillPlanSpec {
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{
			Workloads:  []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}},
			ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}},
		},
	}
}

func storeObjects() []runtime.Object {
	east := fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"})
	east.Spec.Template.Spec.NodeSelector = map[string]string{LabelRegion: "east"}
	west := fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"})
	west.Spec.Template.Spec.NodeSelector = map[string]string{LabelRegion: "west"}
	storePod := fixtures.Pod("recsys", "model-store-1", "east-1", "1", "1Gi", 0, fixtures.Labelled("app", "model-store"))
	storePod.Status.PodIPs = []corev1.PodIP{{IP: "127.42.0.5"}}
	east1 := fixtures.Pod("recsys", "east-1-pod", "east-1", "1", "1Gi", 1, fixtures.Labelled("region", "east"))
	return []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2),
		east, west, fixtures.Deployment("recsys", "model-store", 1, map[string]string{"app": "model-store"}),
		&storePod, &east1,
	}
}

func storeFault(runID string, o *v1alpha1.ModelStoreOutage) platform.Fault {
	return platform.Fault{ID: "store", RunID: runID, Spec: &v1alpha1.Fault{ModelStoreOutage: o}}
}

// chaosMeshStandIn plays Chaos Mesh's part in a fake client: a
// NetworkChaos is reported injected once created.
func chaosMeshStandIn() interceptor.Funcs {
	return interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if nc, ok := obj.(*chaosv1alpha1.NetworkChaos); ok {
			nc.Status.Conditions = []chaosv1alpha1.ChaosCondition{{Type: chaosv1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
		}
		return c.Create(ctx, obj, opts...)
	}}
}

func TestStoreOutageRestartsReplicasOnceWithEveryMethod(t *testing.T) {
	tests := []struct {
		name    string
		outage  v1alpha1.ModelStoreOutage
		objects []string
		marked  []MarkedObject
	}{
		{name: "networkPolicy", outage: v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy, RestartReplicas: 1},
			objects: []string{"NetworkPolicy/recsys/firedrill-r1-store-recommender-east", "NetworkPolicy/recsys/firedrill-r1-store-recommender-west"},
			marked: []MarkedObject{
				{Target: evidence.Target{Kind: KindNetworkPolicy, Name: "recsys/firedrill-r1-store-recommender-east"}, RunID: "r1", Fault: "store", Heartbeat: "recsys/firedrill-run-r1"},
				{Target: evidence.Target{Kind: KindNetworkPolicy, Name: "recsys/firedrill-r1-store-recommender-west"}, RunID: "r1", Fault: "store", Heartbeat: "recsys/firedrill-run-r1"},
			}},
		{name: "chaosMesh", outage: v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang, Method: v1alpha1.OutageChaosMesh, RestartReplicas: 1},
			objects: []string{"NetworkChaos/recsys/firedrill-r1-store"},
			marked:  []MarkedObject{{Target: evidence.Target{Kind: evidence.KindChaos, Name: "NetworkChaos/recsys/firedrill-r1-store"}, RunID: "r1", Fault: "store", Heartbeat: "recsys/firedrill-run-r1"}}},
		{name: "scaleToZero", outage: v1alpha1.ModelStoreOutage{RestartReplicas: 3},
			objects: []string{"Deployment/recsys/model-store"},
			marked:  []MarkedObject{{Target: evidence.Target{Kind: KindWorkload, Name: "Deployment/recsys/model-store"}, RunID: "r1", Fault: "store", Heartbeat: "recsys/firedrill-run-r1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			fc := newFake(t, storeSpec(), chaosMeshStandIn(), storeObjects()...)
			fc.serveChaosMesh("NetworkChaos")
			f := storeFault("r1", &tt.outage)
			targets, err := fc.p.Targets(ctx, f)
			require.NoError(t, err)
			require.Equal(t, []evidence.Target{{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}}, targets)
			objs, err := fc.p.StoreOutageObjects(ctx, f)
			require.NoError(t, err)
			require.Equal(t, tt.objects, objs, "a dry run names what it would create or change")

			require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
			require.NoError(t, fc.p.Inject(ctx, f, targets[0]), "a repeated inject restarts nothing more")
			err = fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "east-1-pod"}, &corev1.Pod{})
			require.True(t, apierrors.IsNotFound(err), "restartReplicas deleted the running inference pod")
			notes := fc.events.messages(evidence.EventNote, "store")
			require.Contains(t, notes, "restarted recsys/east-1-pod during the store outage")
			if tt.outage.RestartReplicas > 1 {
				require.Contains(t, notes, "restartReplicas asked for 3 restarts but only 1 inference pods were running")
			}
			require.Len(t, fc.events.of(evidence.EventTookEffect, "store"), 1)

			marked, err := fc.p.Marked(ctx, "r1", "")
			require.NoError(t, err)
			require.Equal(t, tt.marked, marked)
			require.NoError(t, fc.p.Revert(ctx, f, targets[0]))
			require.NoError(t, fc.p.Revert(ctx, f, targets[0]), "a repeated revert is a no-op")
			marked, err = fc.p.Marked(ctx, "r1", "")
			require.NoError(t, err)
			require.Empty(t, marked, "revert leaves nothing marked")
		})
	}
}

func TestAChaosObjectOfAnotherRunIsNotAdopted(t *testing.T) {
	ctx := t.Context()
	fc := newFake(t, storeSpec(), chaosMeshStandIn(), storeObjects()...)
	fc.serveChaosMesh("NetworkChaos")
	squatter := &chaosv1alpha1.NetworkChaos{}
	squatter.Namespace, squatter.Name = "recsys", "firedrill-r1-store"
	squatter.Annotations = map[string]string{AnnotationRunID: "someone-else", AnnotationFault: "store"}
	require.NoError(t, fc.c.Create(ctx, squatter))
	f := storeFault("r1", &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageHang})
	err := fc.p.Inject(ctx, f, evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"})
	require.ErrorContains(t, err, `was not created by run r1 step store (it carries run "someone-else"`)
	require.Empty(t, fc.events.of(evidence.EventTookEffect, "store"))
}
