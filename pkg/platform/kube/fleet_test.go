package kube

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/fleet"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

func twoClusterSpec(steps ...v1alpha1.Step) *v1alpha1.DrillPlanSpec {
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys", Clusters: []v1alpha1.Cluster{
			{Region: "east", Context: "ctx-east"}, {Region: "west", Context: "ctx-west"},
		}},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}}},
		Steps:  steps,
	}
}

// newFakeFleet builds a fleet of two fake clusters, east and west, each a
// Platform scoped to its region, as NewFleet builds them.
func newFakeFleet(t *testing.T, spec *v1alpha1.DrillPlanSpec, eastObjs, westObjs []runtime.Object) (*Fleet, *fakeCluster, *fakeCluster) {
	t.Helper()
	east := newFakeIn(t, spec, "east", interceptor.Funcs{}, eastObjs...)
	west := newFakeIn(t, spec, "west", interceptor.Funcs{}, westObjs...)
	fl := fleet.New(clocktesting.NewFakePassiveClock(fixtures.Epoch),
		fleet.Cluster{Region: "east", Member: east.p}, fleet.Cluster{Region: "west", Member: west.p})
	return fl, east, west
}

func TestFleetTargetsRouteByRegion(t *testing.T) {
	ctx := context.Background()
	eastPod := fixtures.Pod("recsys", "rec-east-1", "e1", "1", "1Gi", 1)
	strayPod := fixtures.Pod("recsys", "rec-stray", "e2", "1", "1Gi", 1)
	westPod := fixtures.Pod("recsys", "rec-west-1", "w1", "1", "1Gi", 1)
	f, _, _ := newFakeFleet(t, twoClusterSpec(),
		[]runtime.Object{fixtures.Node("e1", "", "8", "32Gi", 2, fixtures.Unlabelled), fixtures.Node("e2", "central", "8", "32Gi", 2), &eastPod, &strayPod},
		[]runtime.Object{fixtures.Node("w1", "west", "8", "32Gi", 2), &westPod})
	tests := []struct {
		name    string
		fault   v1alpha1.Fault
		want    []evidence.Target
		wantErr string
	}{
		{
			name:  "a fault naming a region acts in its cluster, on nodes without a label, not on those labelled elsewhere",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "east"}},
			want:  []evidence.Target{{Kind: evidence.KindPod, Name: "recsys/rec-east-1", Region: "east"}},
		},
		{
			name:  "a node drain naming a region lists its cluster's nodes",
			fault: v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Region: "west"}},
			want:  []evidence.Target{{Kind: evidence.KindNode, Name: "w1", Region: "west"}},
		},
		{
			name:  "a fault naming no region acts in every cluster, each target carrying its cluster's region",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}},
			want: []evidence.Target{
				{Kind: evidence.KindPod, Name: "recsys/rec-east-1", Region: "east"}, {Kind: evidence.KindPod, Name: "recsys/rec-stray", Region: "east"},
				{Kind: evidence.KindPod, Name: "recsys/rec-west-1", Region: "west"},
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
	unpinned := fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender"})
	unpinned.Status.ReadyReplicas = 2 // ready again once restored: traffic fails back at once
	batch := fixtures.Deployment("recsys", "batch", 1, map[string]string{"app": "batch"})
	batch.Status.ReadyReplicas = 1
	elsewhere := fixtures.Deployment("recsys", "pinned-central", 1, map[string]string{"region": "central"})
	f, east, west := newFakeFleet(t, spec,
		[]runtime.Object{fixtures.Node("e1", "", "8", "32Gi", 2, fixtures.Unlabelled), unpinned, batch, elsewhere},
		[]runtime.Object{fixtures.Node("w1", "", "8", "32Gi", 2, fixtures.Unlabelled), fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender"})})
	var events recorder
	east.p.log.SetRecorder(fleet.ForRegion("east", &events)) // as Fleet.Start hands it to the cluster
	fault := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	replicas := func(c client.Client, name string) int32 {
		var d appsv1.Deployment
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: name}, &d))
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
	require.Len(t, targets, 1, "the cutover's one target is the lost cluster's region")
	require.Equal(t, "region/east", targets[0].String())
	require.Equal(t, "east", targets[0].Region)
	require.Equal(t, "Deployment/recsys/batch,Deployment/recsys/recommender-east", targets[0].Labels[LabelCutoverWorkloads],
		"the cluster's workloads without a region are its region's; one pinned elsewhere is not")

	require.NoError(t, f.Inject(ctx, fault, targets[0]))
	require.Equal(t, "inject west\n", switched())
	require.Equal(t, int32(0), replicas(east.c, "recommender-east"))
	require.Equal(t, int32(0), replicas(east.c, "batch"))
	require.Equal(t, int32(1), replicas(east.c, "pinned-central"))
	require.Equal(t, int32(2), replicas(west.c, "recommender-west"), "the surviving cluster is not touched")
	require.NoError(t, f.Inject(ctx, fault, targets[0]), "inject is idempotent")
	require.Equal(t, "inject west\n", switched(), "the switch runs once")

	require.NoError(t, f.Revert(ctx, fault, targets[0]))
	require.NoError(t, f.Revert(ctx, fault, targets[0]), "revert is idempotent")
	require.Equal(t, "inject west\nrevert east\n", switched(), "the switch runs once each way")
	require.Equal(t, int32(2), replicas(east.c, "recommender-east"))
	msgs := events.messages(evidence.EventTrafficSwitched, "cutover")
	require.Len(t, msgs, 2)
	require.Contains(t, msgs[0], "[east] traffic switched east→west by the switch action")
	require.Contains(t, msgs[1], "[east] traffic failed back west→east by the switch action")

	require.ErrorContains(t, f.Inject(ctx, fault, evidence.Target{Kind: evidence.KindRegion, Name: "east", Region: "north"}), `target region/east: region "north"`)
}

func TestFleetRecoverActsInTheLostCluster(t *testing.T) {
	ctx := context.Background()
	rc := &v1alpha1.RegionCutover{From: "east", To: "west", Method: v1alpha1.CutoverScaleToZero}
	spec := twoClusterSpec(v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: rc}})
	scaled := fixtures.Deployment("recsys", "recommender-east", 0, map[string]string{"app": "recommender"})
	scaled.Annotations = map[string]string{AnnotationRunID: "r1", AnnotationFault: "cutover", AnnotationReplicas: "3"}
	f, east, _ := newFakeFleet(t, spec, []runtime.Object{scaled}, []runtime.Object{fixtures.Node("w1", "", "8", "32Gi", 2, fixtures.Unlabelled)})
	// A journal that lost its targets: the marks are enough.
	require.NoError(t, f.Recover(ctx, platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}, nil))
	var d appsv1.Deployment
	require.NoError(t, east.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "recommender-east"}, &d))
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, AnnotationRunID)

	err := f.Recover(ctx, platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}, []evidence.Target{{Kind: evidence.KindNode, Name: "n", Region: "north"}})
	require.ErrorContains(t, err, `journaled targets name region "north"`)
}

func TestFleetCutoverNeedsASchedulableSurvivor(t *testing.T) {
	rc := &v1alpha1.RegionCutover{From: "east", To: "west"}
	spec := twoClusterSpec(v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: rc}})
	f, _, _ := newFakeFleet(t, spec, []runtime.Object{fixtures.Node("e1", "", "8", "32Gi", 2, fixtures.Unlabelled)},
		[]runtime.Object{fixtures.Node("w1", "", "8", "32Gi", 2, fixtures.Unlabelled, fixtures.Cordoned)})
	_, err := f.Targets(context.Background(), platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault})
	require.ErrorContains(t, err, "the cluster of region west has no schedulable node to take over")
	err = f.Preflight(context.Background(), spec)
	require.ErrorContains(t, err, "cluster of region west: step cutover: the cluster of region west has no schedulable node to take over")
	require.ErrorContains(t, err, "system.workloads: Deployment/recsys/recommender-east, Deployment/recsys/recommender-west not found in any cluster",
		"every problem at once")
}
