package serve

import (
	"context"
	"errors"
)

// runCluster runs drill serve in a cluster: reconcilers over DrillPlan and
// DrillRun objects, and the HTTP API with bearer tokens checked by
// TokenReview and rights by SubjectAccessReview. opts holds the flags of
// both modes (Listen, TLS, Platforms for the kubeconfig, ShutdownTimeout),
// and newRegistry builds the metrics registry both modes serve.
//
// The cluster mode is built on its own branch; until it lands this binary
// has none.
func runCluster(_ context.Context, _ Options) error {
	return errors.New("cluster mode is not built in this binary yet; run drill serve --plans DIR to serve the plans of a directory on this machine")
}
