package platforms

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// writeKubeconfig writes a kubeconfig with one context per name; nothing
// is contacted.
func writeKubeconfig(t *testing.T, names ...string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for i, n := range names {
		cfg.Clusters[n] = &clientcmdapi.Cluster{Server: fmt.Sprintf("https://127.0.0.1:%d", 6443+i)}
		cfg.AuthInfos[n] = &clientcmdapi.AuthInfo{Token: "t"}
		cfg.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n}
	}
	cfg.CurrentContext = names[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

func TestNewKubernetes(t *testing.T) {
	kubeconfig := writeKubeconfig(t, "east", "west")
	tests := []struct {
		name     string
		target   v1alpha1.Target
		wantType any
		wantErr  string
	}{
		{name: "one cluster is one platform", target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Context: "west"}, wantType: &kube.Platform{}},
		{name: "target.clusters is a fleet of one platform per cluster",
			target:   v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Clusters: []v1alpha1.Cluster{{Region: "us-east", Context: "east"}, {Region: "us-west", Context: "west"}}},
			wantType: &kube.Fleet{}},
		{name: "a cluster whose context the kubeconfig lacks is named",
			target:  v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Clusters: []v1alpha1.Cluster{{Region: "us-east", Context: "east"}, {Region: "us-west", Context: "nope"}}},
			wantErr: "cluster of region us-west (context nope)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(context.Background(), &v1alpha1.DrillPlanSpec{Target: tt.target}, Options{Kubeconfig: kubeconfig, KubeContext: "east"})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.IsType(t, tt.wantType, p)
		})
	}
}
