package targets_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
	"github.com/firedrill/firedrill/pkg/platform/local/targets"
)

// topology is two regions of nodes nodes (the first gpu of them with a
// GPU) running replicas replicas each, podsPerNode per node.
func topology(nodes, gpu, replicas, podsPerNode int) targets.Topology {
	var t targets.Topology
	for _, r := range []string{"us-east", "us-west"} {
		t.Regions = append(t.Regions, supervisor.Region{Name: r, Replicas: replicas, PodsPerNode: podsPerNode, Nodes: supervisor.BuildNodes(r, nodes, gpu)})
		t.Order = append(t.Order, r)
	}
	return t
}

func TestTargetsBeforeStartComeFromTheTopology(t *testing.T) {
	topo := topology(2, 1, 2, 2)
	tests := []struct {
		name    string
		fault   v1alpha1.Fault
		want    []string
		wantErr string
	}{
		{name: "a pod kill picks the planned replicas of its region", fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "us-west"}},
			want: []string{"recommender-us-west-1", "recommender-us-west-2"}},
		{name: "a GPU-only pod kill keeps replicas on GPU nodes", fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "us-east", GPUOnly: true}},
			want: []string{"recommender-us-east-1"}},
		{name: "a drain picks the nodes its selector matches", fault: v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{supervisor.LabelRegion: "us-east"}}}},
			want: []string{"node-us-east-1", "node-us-east-2"}},
		{name: "a GPU failure picks GPU nodes only", fault: v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{}},
			want: []string{"node-us-east-1", "node-us-west-1"}},
		{name: "a store outage in a region picks its store", fault: v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Region: "us-west"}},
			want: []string{"store-us-west"}},
		{name: "a cutover targets the lost region", fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "us-east", To: "us-west"}},
			want: []string{"us-east"}},
		{name: "a cutover to an unknown region is refused", fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "us-east", To: "eu-west"}},
			wantErr: "regionCutover: the sandbox has regions us-east, us-west"},
		{name: "an invalid selector is an error", fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}}},
			wantErr: "invalid selector"},
		{name: "an exec fault has no sandbox target", fault: v1alpha1.Fault{Exec: &v1alpha1.ExecFault{}},
			wantErr: platform.ErrUnsupported.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := topo.Targets(platform.Fault{ID: "f", Spec: &tt.fault}, nil)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, x := range ts {
				names = append(names, x.Name)
			}
			require.Equal(t, tt.want, names)
		})
	}
}

func TestPreflightRefusesADrainTheRegionCannotAbsorb(t *testing.T) {
	drain := func(policy v1alpha1.CapacityPolicy) *v1alpha1.DrillPlanSpec {
		return &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{
			{Name: "baseline"},
			{Name: "drain", Fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Selection: v1alpha1.Selection{Mode: v1alpha1.SelectOne}, Region: "us-east", OnInsufficientCapacity: policy}}},
		}}
	}
	tests := []struct {
		name    string
		topo    targets.Topology
		spec    *v1alpha1.DrillPlanSpec
		wantErr string
	}{
		{name: "room elsewhere in the region passes", topo: topology(3, 0, 2, 2), spec: drain(v1alpha1.CapacityRefuse)},
		{name: "no room elsewhere is refused", topo: topology(1, 0, 2, 2), spec: drain(v1alpha1.CapacityRefuse),
			wantErr: "step drain: the rest of the region cannot take the replicas of a drained node (replicas, nodes and podsPerNode leave no room); set onInsufficientCapacity: warn to drain anyway"},
		{name: "warn lets it through", topo: topology(1, 0, 2, 2), spec: drain(v1alpha1.CapacityWarn)},
		{name: "a fault that matches nothing is refused", topo: topology(2, 0, 2, 2),
			spec:    &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "gpu", Fault: &v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{}}}}},
			wantErr: "step gpu: the fault matches nothing in the sandbox (regions [us-east us-west])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.topo.Preflight(tt.spec, nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
