package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/local"
)

func gpuPlan(sb *v1alpha1.LocalSandbox, g *v1alpha1.GPUFailure) *v1alpha1.DrillPlanSpec {
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformLocal, Local: sb},
		Steps:  []v1alpha1.Step{{Name: "gpu", Fault: &v1alpha1.Fault{GPUFailure: g}}},
	}
	v1alpha1.SetDefaults_DrillPlanSpec(spec)
	return spec
}

func TestGPUFailurePreflightAndTargets(t *testing.T) {
	crowded := tinySandbox(2, 1) // one node per region runs both replicas
	roomy := tinySandbox(2, 3)
	roomy.Regions[0].GPUNodes = ptr[int32](2)
	tests := []struct {
		name    string
		sb      *v1alpha1.LocalSandbox
		g       v1alpha1.GPUFailure
		targets []string
		wantErr string
	}{
		{name: "GPU nodes of the region are the targets", sb: roomy, g: v1alpha1.GPUFailure{Region: "us-east"},
			targets: []string{"node-us-east-1", "node-us-east-2"}},
		{name: "a selector matches node labels", sb: roomy, g: v1alpha1.GPUFailure{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"topology.kubernetes.io/zone": "us-west-b"}}},
			targets: []string{"node-us-west-2"}},
		{name: "a region with no room elsewhere is refused", sb: crowded, g: v1alpha1.GPUFailure{Region: "us-east"}, targets: []string{"node-us-east-1"},
			wantErr: "step gpu: the rest of the region cannot take the replicas of a node that lost its GPU (replicas, nodes and podsPerNode leave no room); set onInsufficientCapacity: warn to fail it anyway"},
		{name: "warn lets it through", sb: crowded, g: v1alpha1.GPUFailure{Region: "us-east", OnInsufficientCapacity: v1alpha1.CapacityWarn},
			targets: []string{"node-us-east-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := gpuPlan(tt.sb, &tt.g)
			p, err := local.New(local.Options{Sandbox: spec.Target.Local, StateDir: t.TempDir()})
			require.NoError(t, err)
			ts, err := p.Targets(context.Background(), fault("gpu", *spec.Steps[0].Fault))
			require.NoError(t, err)
			require.Equal(t, tt.targets, targetNames(ts))
			err = p.Preflight(context.Background(), spec)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

// TestGPUFailure: a node that loses its GPU loses its replica at once
// (a real process, SIGKILLed); the replacement starts on another node
// after the start delay and never on the failed one, until revert.
func TestGPUFailure(t *testing.T) {
	s := startSandbox(t, tinySandbox(2, 2))
	ctx := context.Background()
	get(t, s.Endpoint()+"/v1/model")
	f := fault("gpu", v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{Region: "us-east", OnInsufficientCapacity: v1alpha1.CapacityRefuse,
		GracePeriod: &metav1.Duration{}}})
	ts, err := s.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, ts, 2)
	node := ts[0].Name
	var victim string
	for _, r := range s.Supervisor().Replicas() {
		if r.Node == node {
			victim = r.Name
		}
	}
	require.NotEmpty(t, victim, "a replica runs on %s", node)

	injected := time.Now()
	require.NoError(t, s.Inject(ctx, f, ts[0]))
	require.True(t, s.Supervisor().GPULost(node))
	require.NotContains(t, names(s.Supervisor().Replicas()), victim, "the replica died with the GPU")
	require.False(t, capacityBack(t, s)(), "capacity is short right after the GPU failed")
	require.Eventually(t, capacityBack(t, s), 30*time.Second, 10*time.Millisecond)
	rto := time.Since(injected)
	t.Logf("measure: sandbox GPU failure: capacity back after %s (start delay 300ms + process start + model load)", rto)
	require.Greater(t, rto, 300*time.Millisecond)
	for _, r := range s.Supervisor().Replicas() {
		require.NotEqual(t, node, r.Node, "no replica is placed on the node without its GPU")
	}
	took := s.tookEffect("gpu")
	require.NotNil(t, took)
	require.Less(t, took.Sub(injected), 300*time.Millisecond)
	require.NotNil(t, s.replaced(injected), "the replacement is reported")
	require.Contains(t, s.notes("gpu"), "node "+node+" lost its GPU: replica(s) "+victim+" killed at once; no replica is placed on it until revert")
	require.NoError(t, s.Inject(ctx, f, ts[0]), "inject is idempotent")
	left, err := s.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, left, 1, "a node without its GPU is no candidate")

	require.NoError(t, s.Revert(ctx, f, ts[0]))
	require.False(t, s.Supervisor().GPULost(node))
	require.NoError(t, s.Revert(ctx, f, ts[0]), "revert is idempotent")
	get(t, s.Endpoint()+"/v1/model")
}

func targetNames(ts []evidence.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}
