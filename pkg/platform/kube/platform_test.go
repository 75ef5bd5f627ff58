package kube

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// newFake builds a platform over client-go's fake clientset; it models
// objects and merge patches, not eviction or scheduling.
func newFake(t *testing.T, spec *v1alpha1.DrillPlanSpec, objs ...runtime.Object) (*Platform, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	scheme, err := NewScheme()
	require.NoError(t, err)
	c := ctrlfake.NewClientBuilder().WithScheme(scheme).Build()
	p := newPlatform(Options{Spec: spec}, nil, cs, c, cs.Discovery())
	p.meta = fakeMetadata(objs...)
	return p, cs
}

func deployment(ns, name string, replicas int32, lbls map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}},
		},
	}
}

func TestTargets(t *testing.T) {
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}}},
	}
	gpuPod := pod("recsys", "gpu-1", "east-1", "1", "1Gi", 1)
	cpuPod := pod("recsys", "cpu-1", "east-1", "1", "1Gi", 0, labelled("app", "frontdoor"))
	other := pod("billing", "b-1", "east-1", "1", "1Gi", 1)
	objs := []runtime.Object{
		node("east-1", "east", "8", "32Gi", 2), node("east-2", "east", "8", "32Gi", 2, cordoned), node("west-1", "west", "8", "32Gi", 2),
		&gpuPod, &cpuPod, &other,
		deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"}),
		deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"}),
	}
	tests := []struct {
		name    string
		fault   v1alpha1.Fault
		want    []string
		wantErr string
	}{
		{name: "podKill with gpuOnly lists the running GPU pods of the namespace",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{GPUOnly: true, Region: "east"}}, want: []string{"pod/recsys/gpu-1"}},
		{name: "podKill outside safety.namespaces is refused",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Namespace: "billing"}}, wantErr: "not in safety.namespaces"},
		{name: "nodeDrain skips nodes someone else cordoned",
			fault: v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Region: "east", GPUOnly: true}}, want: []string{"node/east-1"}},
		{name: "a drain cutover lists the region's nodes",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "west", To: "east"}}, want: []string{"node/west-1"}},
		{name: "a scaleToZero cutover lists the region's workloads",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Method: v1alpha1.CutoverScaleToZero}},
			want:  []string{"workload/Deployment/recsys/recommender-east"}},
		{name: "a cutover to a region without nodes is refused",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "north"}}, wantErr: "region north has no schedulable node"},
		{name: "a manual cutover without a switch action is refused",
			fault:   v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Traffic: v1alpha1.TrafficManual}},
			wantErr: "needs a switch action"},
		{name: "a store outage targets the store workload",
			fault: v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}, want: []string{"store/Deployment/recsys/model-store"}},
		{name: "a slow store is not supported on kubernetes",
			fault: v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow}}, wantErr: "fault not supported"},
		{name: "chaosMesh without Chaos Mesh installed says so",
			fault: v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "PodChaos"}}, wantErr: "chaos mesh is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newFake(t, spec, objs...)
			got, err := p.Targets(context.Background(), platform.Fault{ID: "step", RunID: "r1", Spec: &tt.fault})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, tg := range got {
				names = append(names, tg.Kind+"/"+tg.Name)
			}
			require.ElementsMatch(t, tt.want, names)
		})
	}
}

func TestScaleToZeroBookkeeping(t *testing.T) {
	ctx := context.Background()
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}}},
	}
	p, cs := newFake(t, spec, deployment("recsys", "model-store", 3, map[string]string{"app": "model-store"}))
	f := platform.Fault{ID: "lose-store", RunID: "r1", Spec: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}}
	tg := platform.Target{Kind: KindStore, Name: "Deployment/recsys/model-store"}
	get := func() *appsv1.Deployment {
		d, err := cs.AppsV1().Deployments("recsys").Get(ctx, "model-store", metav1.GetOptions{})
		require.NoError(t, err)
		return d
	}

	require.NoError(t, p.Inject(ctx, f, tg))
	require.NoError(t, p.Inject(ctx, f, tg), "inject is idempotent")
	d := get()
	require.Equal(t, int32(0), *d.Spec.Replicas)
	require.Equal(t, "3", d.Annotations[AnnotationReplicas], "the second inject keeps the first record")
	require.Equal(t, "r1", d.Annotations[AnnotationRunID])

	other := platform.Fault{ID: "lose-store", RunID: "r2", Spec: f.Spec}
	require.ErrorContains(t, p.Inject(ctx, other, tg), "held by run r1")
	require.NoError(t, p.Revert(ctx, other, tg), "another run's revert leaves the workload alone")
	require.Equal(t, int32(0), *get().Spec.Replicas)

	marked, err := p.Marked(ctx, "", "")
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{Target: platform.Target{Kind: KindWorkload, Name: "Deployment/recsys/model-store"}, RunID: "r1", Fault: "lose-store"}}, marked)

	require.NoError(t, p.Recover(ctx, f, []platform.Target{tg}))
	require.NoError(t, p.Revert(ctx, f, tg), "revert after recover is a no-op")
	d = get()
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, AnnotationReplicas)
	require.NotContains(t, d.Annotations, AnnotationRunID)
}

func TestChaosObjectFromThePlan(t *testing.T) {
	f := platform.Fault{ID: "kill-one", RunID: "20261202T0900Z-abc", Spec: &v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{
		Kind: "PodChaos",
		Spec: runtime.RawExtension{Raw: []byte(`{"action":"pod-kill","mode":"one","selector":{"labelSelectors":{"app":"recommender"}}}`)},
	}}}
	obj, err := buildChaos(f, "recsys")
	require.NoError(t, err)
	require.Equal(t, "firedrill-20261202t0900z-abc-kill-one", obj.GetName())
	require.Equal(t, "recsys", obj.GetNamespace())
	require.Equal(t, "20261202T0900Z-abc", obj.GetLabels()[LabelRunID])

	f.Spec.ChaosMesh.Spec.Raw = []byte(`{"action":"pod-kill","mdoe":"one"}`)
	_, err = buildChaos(f, "recsys")
	require.ErrorContains(t, err, `unknown field "mdoe"`)
}

func TestChaosMeshDiscovery(t *testing.T) {
	p, cs := newFake(t, &v1alpha1.DrillPlanSpec{})
	cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "chaos-mesh.org/v1alpha1",
		APIResources: []metav1.APIResource{{Name: "podchaos", Kind: "PodChaos"}},
	}}
	require.NoError(t, p.checkChaosMesh(context.Background(), "PodChaos"))
	require.ErrorIs(t, p.checkChaosMesh(context.Background(), "StressChaos"), ErrChaosMeshMissing)
	require.ErrorIs(t, p.checkChaosMesh(context.Background(), "TimeChaos"), platform.ErrUnsupported)
}

func TestCapacityCountsRecordedReplicasAsDesired(t *testing.T) {
	ctx := t.Context()
	scaled := deployment("recsys", "recommender-east", 0, map[string]string{"app": "recommender"})
	scaled.Annotations = map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationReplicas: "3"}
	healthy := deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender"})
	healthy.Status.ReadyReplicas = 2
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}, {Name: "missing"}}},
	}
	p, _ := newFake(t, spec, scaled, healthy)
	_, err := p.Capacity(ctx)
	require.ErrorIs(t, err, errNotStarted)
	_, err = p.Start(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop(ctx)) }()
	points, err := p.Capacity(ctx)
	require.ErrorContains(t, err, "Deployment/recsys/missing not found")
	for i := range points {
		points[i].At = time.Time{}
	}
	require.Equal(t, []slo.CapacityPoint{
		{Workload: "Deployment/recsys/recommender-east", Desired: 3, Ready: 0},
		{Workload: "Deployment/recsys/recommender-west", Desired: 2, Ready: 2},
	}, points)
}
