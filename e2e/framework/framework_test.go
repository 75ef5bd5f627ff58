package framework

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

func TestNodeSpec(t *testing.T) {
	tests := []struct {
		name       string
		spec       NodeSpec
		wantGPUs   int64
		wantLabels map[string]string
		wantNo     []string
		wantCPU    string
	}{
		{
			name:     "a GPU node carries topology and GPU labels",
			spec:     NodeSpec{Name: "gpu-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
			wantGPUs: 4,
			wantLabels: map[string]string{
				corev1.LabelTopologyRegion: "us-east",
				corev1.LabelTopologyZone:   "us-east-1a",
				workloads.GPUPresentLabel:  "true",
				corev1.LabelHostname:       "gpu-1",
			},
			wantCPU: "32",
		},
		{
			name:       "a CPU node has no GPU label or capacity",
			spec:       NodeSpec{Name: "cpu-1", Region: "us-west", CPU: "8", Memory: "16Gi"},
			wantLabels: map[string]string{corev1.LabelTopologyRegion: "us-west"},
			wantNo:     []string{workloads.GPUPresentLabel, corev1.LabelTopologyZone},
			wantCPU:    "8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.spec.Node()
			require.NoError(t, err)
			for k, v := range tt.wantLabels {
				require.Equal(t, v, n.Labels[k], k)
			}
			for _, k := range tt.wantNo {
				require.NotContains(t, n.Labels, k)
			}
			require.Equal(t, "fake", n.Annotations[workloads.KwokNodeAnnotation])
			require.Equal(t, []corev1.Taint{{Key: workloads.KwokNodeAnnotation, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}, n.Spec.Taints)
			for _, rl := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
				require.Equal(t, tt.wantGPUs, rl.Name(workloads.GPUResource, resource.DecimalSI).Value())
				require.Equal(t, tt.wantCPU, rl.Cpu().String())
				require.Equal(t, int64(110), rl.Pods().Value())
			}
		})
	}
}

func TestNodeSpecRejectsBadQuantities(t *testing.T) {
	for _, spec := range []NodeSpec{{Name: "a", CPU: "lots"}, {Name: "b", Memory: "1 GB"}, {Name: "c", GPUs: -1}} {
		_, err := spec.Node()
		require.Error(t, err, spec.Name)
	}
}

func TestReadObjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "objs.yaml")
	require.NoError(t, os.WriteFile(path, []byte("---\napiVersion: v1\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: B\n"), 0o600))
	objs, err := ReadObjects(path)
	require.NoError(t, err)
	require.Len(t, objs, 2)
	require.Equal(t, "A", objs[0].GetKind())
	require.Equal(t, "B", objs[1].GetKind())
}
