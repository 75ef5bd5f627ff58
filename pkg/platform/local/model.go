package local

import (
	"context"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/platform/local/modelcache"
)

// ModelSpec sizes the sandbox's default model.
type ModelSpec = modelcache.Spec

// Model is a model artifact ready to push.
type Model = modelcache.Model

// DefaultModelCacheDir is $XDG_CACHE_HOME/firedrill/models (usually
// ~/.cache/firedrill/models).
func DefaultModelCacheDir() string { return modelcache.DefaultDir() }

// EnsureModel returns the cached model for spec under cacheDir, generating
// the data and training it first when there is none (see package
// modelcache).
func EnsureModel(ctx context.Context, clk clock.PassiveClock, cacheDir string, spec ModelSpec) (Model, error) {
	return modelcache.Ensure(ctx, clk, cacheDir, spec)
}
