package workloads

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestRecommenderDeployment(t *testing.T) {
	d := RecommenderDeployment("recsys", "us-west", 3)
	require.Equal(t, "recommender-us-west", d.Name)
	require.Equal(t, map[string]string{"app": "recommender", "region": "us-west"}, d.Spec.Template.Labels)
	require.Equal(t, int32(3), *d.Spec.Replicas)
	pod := d.Spec.Template.Spec
	require.Equal(t, "us-west", pod.NodeSelector[corev1.LabelTopologyRegion])
	require.Contains(t, pod.Tolerations, kwokToleration)
	res := pod.Containers[0].Resources
	require.Equal(t, int64(1), res.Requests.Name(GPUResource, resource.DecimalSI).Value())
	require.Equal(t, int64(1), res.Limits.Name(GPUResource, resource.DecimalSI).Value())

	pdb := RecommenderPDB("recsys", "us-west")
	require.Equal(t, d.Name, pdb.Name)
	require.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
	require.Equal(t, d.Spec.Selector, pdb.Spec.Selector)
}
