package kube

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// unlabelled drops a node's region label: in a fleet the cluster is the
// region.
func unlabelled(n *corev1.Node) { delete(n.Labels, LabelRegion) }

func twoClusterSpec(steps ...v1alpha1.Step) *v1alpha1.DrillPlanSpec {
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys", Clusters: []v1alpha1.Cluster{
			{Region: "east", Context: "ctx-east"}, {Region: "west", Context: "ctx-west"},
		}},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}}},
		Steps:  steps,
	}
}

// newFakeFleet builds a fleet of two fake clusters, east and west.
func newFakeFleet(t *testing.T, spec *v1alpha1.DrillPlanSpec, eastObjs, westObjs []runtime.Object) (*Fleet, *fake.Clientset, *fake.Clientset) {
	t.Helper()
	east, ecs := newFake(t, spec, eastObjs...)
	west, wcs := newFake(t, spec, westObjs...)
	return newFleet(&member{region: "east", p: east}, &member{region: "west", p: west}), ecs, wcs
}

func TestFleetTargetsRouteByRegion(t *testing.T) {
	ctx := context.Background()
	eastPod := pod("recsys", "rec-east-1", "e1", "1", "1Gi", 1)
	strayPod := pod("recsys", "rec-stray", "e2", "1", "1Gi", 1)
	westPod := pod("recsys", "rec-west-1", "w1", "1", "1Gi", 1)
	f, _, _ := newFakeFleet(t, twoClusterSpec(),
		[]runtime.Object{node("e1", "", "8", "32Gi", 2, unlabelled), node("e2", "central", "8", "32Gi", 2), &eastPod, &strayPod},
		[]runtime.Object{node("w1", "west", "8", "32Gi", 2), &westPod})
	tests := []struct {
		name    string
		fault   v1alpha1.Fault
		want    []platform.Target
		wantErr string
	}{
		{
			name:  "a fault naming a region acts in its cluster, on nodes without a label, not on those labelled elsewhere",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "east"}},
			want:  []platform.Target{{Kind: KindPod, Name: "recsys/rec-east-1", Region: "east"}},
		},
		{
			name:  "a node drain naming a region lists its cluster's nodes",
			fault: v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Region: "west"}},
			want:  []platform.Target{{Kind: KindNode, Name: "w1", Region: "west"}},
		},
		{
			name:  "a fault naming no region acts in every cluster, each target carrying its cluster's region",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}},
			want: []platform.Target{
				{Kind: KindPod, Name: "recsys/rec-east-1", Region: "east"}, {Kind: KindPod, Name: "recsys/rec-stray", Region: "east"},
				{Kind: KindPod, Name: "recsys/rec-west-1", Region: "west"},
			},
		},
		{
			name:    "a region that is no cluster is refused",
			fault:   v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "north"}},
			wantErr: `region "north" is not the region of a cluster in target.clusters [east west]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Targets(ctx, platform.Fault{ID: "step", RunID: "r1", Spec: &tt.fault})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			for i := range got {
				got[i].Labels = nil
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestFleetCutoverTakesTheClusterDownAndSwitchesOnce(t *testing.T) {
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "switch.log")
	rc := &v1alpha1.RegionCutover{
		From: "east", To: "west", Traffic: v1alpha1.TrafficManual, Method: v1alpha1.CutoverScaleToZero,
		Switch: &v1alpha1.CutoverSwitch{Action: v1alpha1.Action{Command: []string{"sh", "-c", `echo "$FIREDRILL_PHASE $FIREDRILL_TRAFFIC_TO" >> ` + log}}},
	}
	spec := twoClusterSpec(v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: rc}})
	unpinned := deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender"})
	batch := deployment("recsys", "batch", 1, map[string]string{"app": "batch"})
	elsewhere := deployment("recsys", "pinned-central", 1, map[string]string{"region": "central"})
	f, ecs, wcs := newFakeFleet(t, spec,
		[]runtime.Object{node("e1", "", "8", "32Gi", 2, unlabelled), unpinned, batch, elsewhere},
		[]runtime.Object{node("w1", "", "8", "32Gi", 2, unlabelled), deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender"})})
	fault := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	replicas := func(cs *fake.Clientset, name string) int32 {
		d, err := cs.AppsV1().Deployments("recsys").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		return *d.Spec.Replicas
	}
	switched := func() string {
		data, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return ""
		}
		require.NoError(t, err)
		return string(data)
	}

	targets, err := f.Targets(ctx, fault)
	require.NoError(t, err)
	var names []string
	for _, tg := range targets {
		require.Equal(t, "east", tg.Region)
		names = append(names, tg.Name)
	}
	require.ElementsMatch(t, []string{"Deployment/recsys/recommender-east", "Deployment/recsys/batch"}, names,
		"the cluster's workloads without a region are its region's; one pinned elsewhere is not")

	for _, tg := range targets {
		require.Empty(t, switched(), "traffic moves after the last target")
		require.NoError(t, f.Inject(ctx, fault, tg))
	}
	require.Equal(t, "inject west\n", switched())
	require.Equal(t, int32(0), replicas(ecs, "recommender-east"))
	require.Equal(t, int32(2), replicas(wcs, "recommender-west"), "the surviving cluster is not touched")

	for _, tg := range targets {
		require.NoError(t, f.Revert(ctx, fault, tg))
	}
	require.Equal(t, "inject west\nrevert east\n", switched(), "the switch runs once each way")
	require.Equal(t, int32(2), replicas(ecs, "recommender-east"))
	require.Contains(t, f.Notes(fault)[0], "[east] traffic switched east→west by the switch action")

	require.ErrorContains(t, f.Inject(ctx, fault, platform.Target{Kind: KindWorkload, Name: "Deployment/recsys/batch", Region: "north"}), `target workload/Deployment/recsys/batch: region "north"`)
}

func TestFleetRecoverActsInTheLostCluster(t *testing.T) {
	ctx := context.Background()
	rc := &v1alpha1.RegionCutover{From: "east", To: "west", Method: v1alpha1.CutoverScaleToZero}
	spec := twoClusterSpec(v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: rc}})
	scaled := deployment("recsys", "recommender-east", 0, map[string]string{"app": "recommender"})
	scaled.Annotations = map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationReplicas: "3"}
	f, ecs, _ := newFakeFleet(t, spec, []runtime.Object{scaled}, []runtime.Object{node("w1", "", "8", "32Gi", 2, unlabelled)})
	// A journal that lost its targets: the marks are enough.
	require.NoError(t, f.Recover(ctx, platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}, nil))
	d, err := ecs.AppsV1().Deployments("recsys").Get(ctx, "recommender-east", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, AnnotationRunID)

	err = f.Recover(ctx, platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}, []platform.Target{{Kind: KindNode, Name: "n", Region: "north"}})
	require.ErrorContains(t, err, `journaled targets name region "north"`)
}

func TestFleetCutoverNeedsASchedulableSurvivor(t *testing.T) {
	rc := &v1alpha1.RegionCutover{From: "east", To: "west"}
	spec := twoClusterSpec(v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: rc}})
	f, _, _ := newFakeFleet(t, spec, []runtime.Object{node("e1", "", "8", "32Gi", 2, unlabelled)}, []runtime.Object{node("w1", "", "8", "32Gi", 2, unlabelled, cordoned)})
	_, err := f.Targets(context.Background(), platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault})
	require.ErrorContains(t, err, "the cluster of region west has no schedulable node to take over")
}

func TestFleetCapacityMergesClusters(t *testing.T) {
	ctx := t.Context()
	east := deployment("recsys", "recommender-east", 0, map[string]string{"app": "recommender"})
	east.Annotations = map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationReplicas: "2"}
	west := deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender"})
	west.Status.ReadyReplicas = 2
	spec := twoClusterSpec()
	f, _, _ := newFakeFleet(t, spec, []runtime.Object{east}, []runtime.Object{west})
	_, err := f.Start(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Stop(ctx)) }()
	points, err := f.Capacity(ctx)
	require.NoError(t, err, "a workload that lives in one cluster only is no error")
	for i := range points {
		points[i].At = time.Time{}
	}
	require.Equal(t, []slo.CapacityPoint{
		{Workload: "east/Deployment/recsys/recommender-east", Desired: 2, Ready: 0},
		{Workload: "west/Deployment/recsys/recommender-west", Desired: 2, Ready: 2},
	}, points)

	spec.System.Workloads = append(spec.System.Workloads, v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Name: "nowhere"})
	f2, _, _ := newFakeFleet(t, spec, []runtime.Object{east}, []runtime.Object{west})
	_, err = f2.Start(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, f2.Stop(ctx)) }()
	_, err = f2.Capacity(ctx)
	require.ErrorContains(t, err, "Deployment/recsys/nowhere not found in any cluster")
}
