package kube

import (
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
			uncompressedOnLoopback(cfg)
			require.Equal(t, tc.off, cfg.DisableCompression)
		})
	}
	t.Run("a kubeconfig that disables compression stays disabled", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://api.example.com", DisableCompression: true}
		uncompressedOnLoopback(cfg)
		require.True(t, cfg.DisableCompression)
	})
}
