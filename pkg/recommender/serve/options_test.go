package serve_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/serve"
)

func TestAddressBeyondLoopback(t *testing.T) {
	_, err := serve.New(serve.Options{Addr: "10.0.0.7:8080"})
	require.ErrorContains(t, err, "must be a loopback address")
	_, err = serve.New(serve.Options{Addr: "10.0.0.7:8080", AllowRemote: true})
	require.NoError(t, err, "a pod's address is accepted when remote clients are allowed")
}
