package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

func TestAGPUFailurePicksNodesWithinMaxNodes(t *testing.T) {
	pf := newFakePlatform(clocktesting.NewFakeClock(t0))
	pf.targets["gpuFailure"] = []evidence.Target{
		{Kind: evidence.KindNode, Name: "gpu-3"}, {Kind: evidence.KindNode, Name: "gpu-1"}, {Kind: evidence.KindNode, Name: "gpu-2"},
	}
	tests := []struct {
		name     string
		sel      v1alpha1.Selection
		maxNodes int32
		want     int
		wantErr  string
	}{
		{name: "mode one fails one node", sel: v1alpha1.Selection{Mode: v1alpha1.SelectOne}, maxNodes: 1, want: 1},
		{name: "a count within maxNodes", sel: v1alpha1.Selection{Mode: v1alpha1.SelectCount, Value: ptr.To[int32](2)}, maxNodes: 2, want: 2},
		{name: "every node is refused above maxNodes", sel: v1alpha1.Selection{Mode: v1alpha1.SelectAll}, maxNodes: 2, want: 3,
			wantErr: "step gpu: refusing to fail the GPUs of 3 nodes: safety.maxNodes is 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &v1alpha1.Step{Name: "gpu", Fault: &v1alpha1.Fault{GPUFailure: &v1alpha1.GPUFailure{Selection: tt.sel}}}
			spec := &v1alpha1.DrillPlanSpec{Safety: v1alpha1.Safety{MaxNodes: ptr.To(tt.maxNodes)}, Steps: []v1alpha1.Step{*st}}
			res, err := resolve(t.Context(), pf, spec, "run", st)
			require.Equal(t, "gpuFailure", res.Type)
			require.Len(t, res.Candidates, 3)
			require.Len(t, res.Picked, tt.want)
			for _, p := range res.Picked {
				require.Equal(t, evidence.KindNode, p.Kind, "the target of a GPU failure is a node")
			}
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
