package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/serve"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// serveOptions are the flags of `recommender serve`.
type serveOptions struct {
	registryFlags
	addr           string
	allowRemote    bool
	modelRef       string
	modelDir       string
	cacheDir       string
	fallback       string
	pollInterval   time.Duration
	resolveTimeout time.Duration
	requireModel   bool
	drainTimeout   time.Duration
	maxK           int
	responseCache  int
	recommender    string
}

func (o *serveOptions) validate() error {
	var errs []error
	if o.modelRef != "" && o.modelDir != "" {
		errs = append(errs, errors.New("--model-ref and --model-dir are mutually exclusive"))
	}
	if o.drainTimeout < 0 || o.pollInterval < 0 || o.resolveTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}

// defaultCacheDir is $XDG_CACHE_HOME/firedrill/recommender (usually
// ~/.cache/firedrill/recommender), or "" when there is no home.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "firedrill", "recommender")
}

// NewServeCommand returns `recommender serve`, which runs the HTTP service
// until SIGINT or SIGTERM, then drains.
func NewServeCommand() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [--model-ref REF | --model-dir DIR]",
		Short: "Serve recommendations over HTTP",
		Long: `Serve the recommender HTTP API. The model comes from --model-ref (an OCI
reference, pulled into --cache-dir; the cache is used when the store is
down) or from --model-dir. The tag is polled every --poll-interval and new
versions are swapped in atomically. With no model, a degraded popularity
fallback is served (the snapshot persisted in --cache-dir by the last model,
else --fallback); --require-model makes readiness wait for a real model.
Prints "listening on HOST:PORT". SIGINT or SIGTERM drains in-flight requests
for up to --drain-timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.resolve(cmd)
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (loopback only unless --allow-remote; port 0 picks a free port)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "listen beyond loopback, e.g. on a pod's IP (the API has no authentication: keep it behind the pod network or a NetworkPolicy)")
	f.StringVar(&o.modelRef, "model-ref", "", "model reference in the model store, e.g. 127.0.0.1:5000/recommender:prod")
	f.StringVar(&o.modelDir, "model-dir", "", "load a local model artifact directory instead of the store")
	f.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "node-local cache of pulled models (by digest) and the popularity snapshot")
	f.StringVar(&o.fallback, "fallback", "", "popularity snapshot JSON served when no model and no cached snapshot exist")
	f.DurationVar(&o.pollInterval, "poll-interval", 10*time.Second, "how often to check the tag for a new version (0 disables)")
	f.DurationVar(&o.resolveTimeout, "store-timeout", time.Second, "how long to wait for the store before falling back to the cache")
	f.BoolVar(&o.requireModel, "require-model", false, "report ready only with a real model, not the degraded fallback")
	f.DurationVar(&o.drainTimeout, "drain-timeout", 10*time.Second, "how long to let in-flight requests finish on SIGTERM")
	f.IntVar(&o.maxK, "max-k", 100, "largest k a request may ask for")
	f.IntVar(&o.responseCache, "response-cache", 20000, "recommendation and search responses cached per model version (negative disables)")
	f.StringVar(&o.recommender, "recommender", model.RecommenderAuto, "what recommendations rank by: auto (the model's choice, the best validation NDCG at training), als, itemknn, ease or popularity")
	o.add(cmd)
	return cmd
}

func (o *serveOptions) run(ctx context.Context, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := serve.Options{
		Addr:              o.addr,
		AllowRemote:       o.allowRemote,
		ModelRef:          o.modelRef,
		ModelDir:          o.modelDir,
		CacheDir:          o.cacheDir,
		FallbackPath:      o.fallback,
		PollInterval:      o.pollInterval,
		ResolveTimeout:    o.resolveTimeout,
		RequireModel:      o.requireModel,
		MaxK:              o.maxK,
		ResponseCacheSize: o.responseCache,
		Registerer:        reg,
		Logger:            log.FromContext(ctx),
		Load: func(dir string) (serve.Model, error) {
			m, err := model.LoadWith(dir, model.LoadOptions{Recommender: o.recommender})
			if err != nil {
				return nil, err
			}
			return m, nil
		},
	}
	if o.modelRef != "" {
		if o.cacheDir == "" {
			return errors.New("--cache-dir is required with --model-ref")
		}
		so := o.storeOptions(ctx, filepath.Join(o.cacheDir, "models"))
		// model.Load verifies every file's sha256 itself; hashing the cache
		// entry as well would double the start-up I/O.
		so.CacheVerify = store.VerifySizes
		s, err := store.New(so)
		if err != nil {
			return err
		}
		opts.Store = s
	}
	srv, err := serve.New(opts)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "listening on %s\n", srv.Addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drainTimeout)
	defer cancel()
	return srv.Stop(stopCtx)
}
