package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/loopback"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// Model is what the server needs from a loaded model. *model.Model
// implements it.
type Model interface {
	Metadata() model.Metadata
	KnownUser(user string) bool
	Recommend(user string, k int) []model.Result
	Similar(item string, k int) ([]model.Result, error)
	Search(query, user string, k int) []model.Result
	Popular(category string, k int) []model.Result
	Sample(n int) (users, items, queries []string)
	PopularitySnapshot(n int) []model.Result
}

// Store is what the server needs from the model store. *store.Store
// implements it.
type Store interface {
	Resolve(ctx context.Context, ref string) (digest.Digest, error)
	PullDigest(ctx context.Context, ref string, d digest.Digest) (store.Artifact, error)
	Cached(ctx context.Context, ref string) (store.Artifact, error)
	Evict(ctx context.Context, d digest.Digest) error
}

// Options configure a Server. Zero values are documented per field.
type Options struct {
	// Addr is the listen address. Empty means 127.0.0.1:8080; use
	// 127.0.0.1:0 for a free port. The host must be a loopback address
	// unless AllowRemote is set.
	Addr string
	// AllowRemote accepts an address beyond loopback: a pod's IP, where the
	// pod network (and a NetworkPolicy) is the boundary. The API has no
	// authentication.
	AllowRemote bool

	// ModelRef is the model's OCI reference (tag or digest) in Store.
	ModelRef string
	// Store pulls ModelRef. Required with ModelRef.
	Store Store
	// ModelDir loads a local artifact directory instead of the store.
	// ModelDir and ModelRef are mutually exclusive; with neither the
	// server runs on the fallback only.
	ModelDir string
	// CacheDir is where the popularity snapshot is persisted on every
	// successful load. Empty disables the snapshot.
	CacheDir string
	// FallbackPath is a popularity snapshot file used when no model and no
	// persisted snapshot is available. Empty means none.
	FallbackPath string

	// PollInterval is how often the ModelRef tag is resolved for a new
	// version, and how often loading is retried while degraded. Zero
	// disables polling.
	PollInterval time.Duration
	// ResolveTimeout bounds one resolve of the tag; past it the server falls
	// back to the cache. Zero means 1s.
	ResolveTimeout time.Duration
	// PullTimeout bounds one pull of a new version. Zero means 2m.
	PullTimeout time.Duration
	// RequireModel makes readiness require a full model; otherwise the
	// server is ready once the first load attempt finished, degraded or not.
	RequireModel bool

	// MaxK is the largest k a request may ask for. Zero means 100.
	MaxK int
	// MaxSample is the largest n for /v1/sample. Zero means 10000.
	MaxSample int
	// SnapshotSize is how many popular items the persisted snapshot keeps.
	// Zero means 1000.
	SnapshotSize int
	// ResponseCacheSize is how many encoded recommendation and search
	// responses are kept per model version (an LRU dropped on every swap).
	// Zero means 20000 (about 30 MB at k=10); negative disables the cache.
	ResponseCacheSize int

	// MaxConcurrentScoring bounds how many requests score with the model at
	// once (cache hits and cheap lookups do not count). Excess requests wait
	// their turn instead of time-slicing the CPU with hundreds of others,
	// which keeps memory flat and latency fair under overload. Zero means
	// twice GOMAXPROCS.
	MaxConcurrentScoring int

	// Load opens an artifact directory. Nil means model.Load.
	Load func(dir string) (Model, error)
	// Registerer receives the server's metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Gatherer is served on /metrics. Nil means Registerer if it is a
	// Gatherer (as *prometheus.Registry is), else the private registry.
	Gatherer prometheus.Gatherer
	// Logger receives operator logs. Nil means the logger in Start's context.
	Logger *slog.Logger
	// Clock drives polling and timestamps. Nil means the real clock.
	Clock clock.WithTicker
}

func (o *Options) validate() error {
	var errs []error
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("invalid address %q: %w", o.Addr, err))
	} else if !o.AllowRemote && !loopback.Host(o.Addr) {
		errs = append(errs, fmt.Errorf("address %q must be a loopback address (or allow remote clients)", o.Addr))
	}
	if o.ModelRef != "" && o.ModelDir != "" {
		errs = append(errs, errors.New("model ref and model dir are mutually exclusive"))
	}
	if o.ModelRef != "" {
		if _, err := store.ParseReference(o.ModelRef); err != nil {
			errs = append(errs, err)
		}
		if o.Store == nil {
			errs = append(errs, errors.New("a store is required with a model ref"))
		}
	}
	if o.PollInterval < 0 || o.ResolveTimeout < 0 || o.PullTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if o.MaxK < 0 || o.MaxSample < 0 || o.SnapshotSize < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if o.ResolveTimeout == 0 {
		o.ResolveTimeout = time.Second
	}
	if o.PullTimeout == 0 {
		o.PullTimeout = 2 * time.Minute
	}
	if o.MaxK == 0 {
		o.MaxK = 100
	}
	if o.MaxSample == 0 {
		o.MaxSample = 10000
	}
	if o.MaxConcurrentScoring < 0 {
		errs = append(errs, errors.New("max concurrent scoring must not be negative"))
	}
	if o.MaxConcurrentScoring == 0 {
		o.MaxConcurrentScoring = 2 * runtime.GOMAXPROCS(0)
	}
	if o.ResponseCacheSize == 0 {
		o.ResponseCacheSize = 20000
	}
	if o.SnapshotSize == 0 {
		o.SnapshotSize = 1000
	}
	if o.Load == nil {
		o.Load = func(dir string) (Model, error) {
			m, err := model.Load(dir)
			if err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return errors.Join(errs...)
}
