package apiclient

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

func TestUncompressedOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		off  bool
	}{
		{host: "https://127.0.0.1:6443", off: true},
		{host: "https://127.42.0.9:6443", off: true},
		{host: "https://[::1]:6443", off: true},
		{host: "https://localhost:6443", off: true},
		{host: "LOCALHOST:6443", off: true},
		{host: "127.0.0.1:6443", off: true},
		{host: "https://10.96.0.1:443", off: false},
		{host: "https://api.example.com", off: false},
		{host: "https://localhost.example.com", off: false},
		{host: "", off: false},
		{host: "https://%zz", off: false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			cfg := &rest.Config{Host: tc.host}
			UncompressedOnLoopback(cfg)
			require.Equal(t, tc.off, cfg.DisableCompression)
		})
	}
	t.Run("a kubeconfig that disables compression stays disabled", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://api.example.com", DisableCompression: true}
		UncompressedOnLoopback(cfg)
		require.True(t, cfg.DisableCompression)
	})
}

func TestAMissingKubeconfigSaysWhereFiredrillLooked(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	_, err := RESTConfig("", "", 50, 100)
	require.ErrorIs(t, err, ErrNoKubeconfig)
	for _, want := range []string{"--kubeconfig", "$KUBECONFIG", ".kube/config", "in-cluster service account"} {
		require.ErrorContains(t, err, want)
	}
	require.NotContains(t, err.Error(), "KUBERNETES_MASTER", "client-go's advice names a variable nothing reads")

	_, err = RESTConfig("", "prod-us", 50, 100)
	require.ErrorIs(t, err, ErrNoKubeconfig, "a context of no kubeconfig is no kubeconfig")

	missing := filepath.Join(t.TempDir(), "nope")
	t.Setenv("KUBECONFIG", missing)
	_, err = RESTConfig("", "", 50, 100)
	require.ErrorIs(t, err, ErrNoKubeconfig)
	require.ErrorContains(t, err, "$KUBECONFIG="+missing)

	_, err = RESTConfig(missing, "", 50, 100)
	require.ErrorContains(t, err, "loading kubeconfig", "a file named on the command line must exist")
	require.ErrorContains(t, err, missing)
}
