package ociregistry_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

func TestServerLifecycle(t *testing.T) {
	srv, err := ociregistry.New(ociregistry.Options{Root: t.TempDir(), Logger: log.Discard()})
	require.NoError(t, err)
	require.Empty(t, srv.Addr(), "no address before Start")
	require.NoError(t, srv.Start(context.Background()))
	require.Error(t, srv.Start(context.Background()), "a second Start is refused")

	resp, err := http.Get("http://" + srv.Addr() + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "registry/2.0", resp.Header.Get("Docker-Distribution-API-Version"))

	addr := srv.Addr()
	require.NoError(t, srv.Stop(context.Background()))
	_, err = http.Get("http://" + addr + "/v2/")
	require.Error(t, err, "a stopped registry accepts no connections")
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    ociregistry.Options
		wantErr string
	}{
		{name: "a root is required", opts: ociregistry.Options{}, wantErr: "storage root is required"},
		{name: "a wildcard address is refused", opts: ociregistry.Options{Root: "x", Addr: "0.0.0.0:5000"}, wantErr: "must be a loopback address"},
		{name: "a malformed address is refused", opts: ociregistry.Options{Root: "x", Addr: "nonsense"}, wantErr: "invalid registry address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ociregistry.New(tt.opts)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	t.Run("a pod's address is accepted when remote clients are allowed", func(t *testing.T) {
		_, err := ociregistry.New(ociregistry.Options{Root: "x", Addr: "10.0.0.7:5000", AllowRemote: true})
		require.NoError(t, err)
	})
}
