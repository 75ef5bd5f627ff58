package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firedrill/firedrill/pkg/httpdrain"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// Source says where the served model came from.
type Source string

const (
	// SourceStore means the model was resolved through the model store (its
	// bytes may still have come from the cache when the digest was cached).
	SourceStore Source = "store"
	// SourceCache means the store was unreachable and the model is the last
	// one cached for the reference.
	SourceCache Source = "cache"
	// SourceDir means the model was loaded from Options.ModelDir.
	SourceDir Source = "dir"
	// SourceFallback means no model is loaded and the popularity fallback is
	// served.
	SourceFallback Source = "fallback"
)

// NoVersion is the version reported while no model or snapshot is known.
const NoVersion = "none"

// ModelInfo describes what is being served; it is the body of /v1/model.
type ModelInfo struct {
	// Version is the model version, or the version of the model the fallback
	// snapshot was taken from, or NoVersion.
	Version string `json:"version"`
	// Digest is the artifact's manifest digest when it came from the store.
	Digest string `json:"digest,omitempty"`
	// Ref is the reference the model was pulled for.
	Ref string `json:"ref,omitempty"`
	// CreatedAt is when the model was trained.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Source is where the model came from.
	Source Source `json:"source"`
	// CacheHit is true when a store model's bytes came from the cache.
	CacheHit bool `json:"cacheHit,omitempty"`
	// Degraded is true while the popularity fallback is served.
	Degraded bool `json:"degraded"`
	// LoadedAt is when this model (or fallback) started being served.
	LoadedAt time.Time `json:"loadedAt"`
}

// served is one immutable serving state; requests load it once and use it
// throughout, so a swap never shows a request half of two models.
type served struct {
	model    Model     // nil while degraded
	fallback *fallback // never nil
	info     ModelInfo
	header   []string // X-Model-Version value
	// responses caches encoded bodies computed from model; nil when
	// disabled or degraded. It dies with this state, so a swap never serves
	// a stale answer.
	responses *lru.Cache[string, []byte]
}

func (s *Server) newServed(m Model, fb *fallback, info ModelInfo) *served {
	st := &served{model: m, fallback: fb, info: info, header: []string{info.Version}}
	if m != nil && s.opts.ResponseCacheSize > 0 {
		// New fails only for a non-positive size.
		st.responses, _ = lru.New[string, []byte](s.opts.ResponseCacheSize)
	}
	return st
}

// Server is the recommender HTTP server.
type Server struct {
	opts     Options
	metrics  *metrics
	gatherer prometheus.Gatherer

	current   atomic.Pointer[served]
	attempted atomic.Bool // the first load attempt finished
	draining  atomic.Bool
	loaded    chan struct{}
	reloadMu  sync.Mutex
	snapMu    sync.Mutex
	scoring   chan struct{} // semaphore of MaxConcurrentScoring

	mu      sync.Mutex
	logger  *slog.Logger
	srv     *http.Server
	ln      net.Listener
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	served  chan struct{}
	srvErr  error
	started bool
	idle    httpdrain.IdleConns
}

// New validates opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid serve options: %w", err)
	}
	reg := opts.Registerer
	gatherer := opts.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if gatherer == nil {
			gatherer = r
		}
	}
	if gatherer == nil {
		g, ok := reg.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("invalid serve options: a Gatherer is required when the Registerer is not one")
		}
		gatherer = g
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, metrics: m, gatherer: gatherer, loaded: make(chan struct{}), logger: opts.Logger,
		scoring: make(chan struct{}, opts.MaxConcurrentScoring)}
	s.current.Store(s.newServed(nil, newFallback(nil), ModelInfo{Version: NoVersion, Source: SourceFallback, Degraded: true}))
	m.degraded.Set(1)
	return s, nil
}

// Start binds the listener, starts serving (degraded until a model loads) and
// loads the model in the background. Readiness (/readyz, Ready) follows the
// first load attempt. ctx supplies the logger; use Stop to stop.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server already started")
	}
	if s.logger == nil {
		s.logger = log.FromContext(ctx)
	}
	s.loadFallback()

	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.started = true
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnState:         s.idle.Track,
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped", "err", err)
			s.mu.Lock()
			s.srvErr = err
			s.mu.Unlock()
		}
	}()

	bg, cancel := context.WithCancel(log.IntoContext(context.WithoutCancel(ctx), s.logger))
	s.cancel = cancel
	s.bg.Go(func() { s.run(bg) })
	s.logger.Info("recommender listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the bound address, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Loaded is closed once the first model load attempt has finished, whether
// it produced a model or left the server degraded.
func (s *Server) Loaded() <-chan struct{} {
	return s.loaded
}

// Ready reports what /readyz reports.
func (s *Server) Ready() bool {
	if s.draining.Load() || !s.attempted.Load() {
		return false
	}
	return !s.opts.RequireModel || s.current.Load().model != nil
}

// Info returns what is being served now.
func (s *Server) Info() ModelInfo {
	return s.current.Load().info
}

// Stop marks the server not ready, stops polling, and drains: it stops
// accepting connections and waits for in-flight requests until ctx ends, then
// closes the remaining connections.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, cancel, done := s.srv, s.cancel, s.served
	s.mu.Unlock()
	s.draining.Store(true)
	s.metrics.ready.Set(0)
	if srv == nil {
		return nil
	}
	cancel()
	srv.SetKeepAlivesEnabled(false)
	s.idle.CloseAll()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("draining: %w", err)
	}
	<-done
	s.bg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.srvErr != nil {
		err = s.srvErr
	}
	s.logger.Info("recommender stopped", "err", err)
	return err
}

func (s *Server) updateReady() {
	if s.Ready() {
		s.metrics.ready.Set(1)
	} else {
		s.metrics.ready.Set(0)
	}
}

// run performs the first load and then polls until ctx ends.
func (s *Server) run(ctx context.Context) {
	start := s.opts.Clock.Now()
	switch {
	case s.opts.ModelDir != "":
		s.loadDir(ctx)
	case s.opts.ModelRef != "":
		if err := s.reload(ctx, true); err != nil {
			s.logger.Warn("initial model load failed", "err", err)
		}
	}
	s.attempted.Store(true)
	close(s.loaded)
	s.updateReady()
	info := s.Info()
	s.logger.Info("first load attempt finished", "version", info.Version, "source", info.Source,
		"degraded", info.Degraded, "ready", s.Ready(), "duration", s.opts.Clock.Since(start))

	if s.opts.PollInterval <= 0 || (s.opts.ModelRef == "" && s.opts.ModelDir == "") {
		return
	}
	t := s.opts.Clock.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if s.opts.ModelDir != "" {
				if s.current.Load().model == nil {
					s.loadDir(ctx)
				}
				continue
			}
			if err := s.reload(ctx, false); err != nil {
				s.logger.Warn("model reload failed; keeping the current model", "err", err, "version", s.Info().Version)
			}
		}
	}
}

// Reload checks the model reference once and swaps in a new version if there
// is one. The server keeps serving the current model when it fails.
func (s *Server) Reload(ctx context.Context) error {
	if s.opts.ModelRef == "" {
		return errors.New("reload: no model reference configured")
	}
	return s.reload(ctx, false)
}

func (s *Server) reload(ctx context.Context, initial bool) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	ref := s.opts.ModelRef
	cur := s.current.Load()
	start := s.opts.Clock.Now()

	rctx, cancel := context.WithTimeout(ctx, s.opts.ResolveTimeout)
	dgst, err := s.opts.Store.Resolve(rctx, ref)
	cancel()
	if err != nil {
		s.metrics.reloadFails.WithLabelValues(stageResolve).Inc()
		if cur.model == nil || initial {
			if cerr := s.loadCached(ctx, start); cerr != nil {
				return errors.Join(fmt.Errorf("store unreachable: %w", err), cerr)
			}
			s.logger.Warn("model store unreachable; serving the cached model", "err", err, "version", s.Info().Version)
			return nil
		}
		return err
	}
	s.logger.Debug("resolved model reference", "ref", ref, "digest", dgst, "duration", s.opts.Clock.Since(start))
	if cur.model != nil && cur.info.Digest == dgst.String() {
		return nil
	}

	a, m, err := s.pullAndLoad(ctx, ref, dgst)
	if err != nil {
		if cur.model == nil {
			if cached, cerr := s.opts.Store.Cached(ctx, ref); cerr == nil && cached.Digest == dgst {
				return err // the cache holds the artifact that just failed
			}
			if cerr := s.loadCached(ctx, start); cerr != nil {
				return errors.Join(err, cerr)
			}
			s.logger.Warn("serving the cached model; pulling the new one failed", "err", err)
			return nil
		}
		return err
	}
	s.swap(ctx, m, a, SourceStore, start)
	return nil
}

// pullAndLoad pulls the digest ref resolved to into the cache and loads it. A cached artifact that
// passes the store's digest check but fails the model's own checks is
// evicted and pulled once more.
func (s *Server) pullAndLoad(ctx context.Context, ref string, dgst digest.Digest) (store.Artifact, Model, error) {
	for attempt := 0; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, s.opts.PullTimeout)
		a, err := s.opts.Store.PullDigest(pctx, ref, dgst)
		cancel()
		if err != nil {
			s.metrics.reloadFails.WithLabelValues(stagePull).Inc()
			return a, nil, fmt.Errorf("pulling %s: %w", ref, err)
		}
		pulled := s.opts.Clock.Now()
		m, err := s.opts.Load(a.Dir)
		if err == nil {
			s.logger.Debug("model pulled and loaded", "digest", a.Digest, "cacheHit", a.CacheHit,
				"load", s.opts.Clock.Since(pulled))
			return a, m, nil
		}
		s.metrics.reloadFails.WithLabelValues(stageLoad).Inc()
		if !errors.Is(err, model.ErrCorrupt) || attempt > 0 {
			return a, nil, fmt.Errorf("loading %s (%s): %w", ref, a.Digest, err)
		}
		s.logger.Warn("cached model is corrupt; evicting and pulling again", "digest", a.Digest, "err", err)
		if err := s.opts.Store.Evict(ctx, a.Digest); err != nil {
			return a, nil, err
		}
	}
}

// loadCached loads the last cached artifact for the reference.
func (s *Server) loadCached(ctx context.Context, start time.Time) error {
	a, err := s.opts.Store.Cached(ctx, s.opts.ModelRef)
	if err != nil {
		return fmt.Errorf("no usable cached model: %w", err)
	}
	if cur := s.current.Load(); cur.model != nil && cur.info.Digest == a.Digest.String() {
		return nil
	}
	m, err := s.opts.Load(a.Dir)
	if err != nil {
		s.metrics.reloadFails.WithLabelValues(stageLoad).Inc()
		if errors.Is(err, model.ErrCorrupt) {
			_ = s.opts.Store.Evict(ctx, a.Digest)
		}
		return fmt.Errorf("loading cached model %s: %w", a.Digest, err)
	}
	s.swap(ctx, m, a, SourceCache, start)
	return nil
}

func (s *Server) loadDir(ctx context.Context) {
	start := s.opts.Clock.Now()
	m, err := s.opts.Load(s.opts.ModelDir)
	if err != nil {
		s.metrics.reloadFails.WithLabelValues(stageLoad).Inc()
		s.logger.Warn("loading model directory failed", "dir", s.opts.ModelDir, "err", err)
		return
	}
	s.swap(ctx, m, store.Artifact{}, SourceDir, start)
}

// swap makes m the served model and persists its popularity snapshot.
func (s *Server) swap(_ context.Context, m Model, a store.Artifact, src Source, start time.Time) {
	md := m.Metadata()
	now := s.opts.Clock.Now()
	info := ModelInfo{
		Version:   md.Version,
		Digest:    a.Digest.String(),
		Ref:       a.Ref,
		CreatedAt: md.CreatedAt,
		Source:    src,
		CacheHit:  a.CacheHit && src == SourceStore,
		LoadedAt:  now,
	}
	if info.Version == "" {
		info.Version = a.Version
	}
	snap := m.PopularitySnapshot(s.opts.SnapshotSize)
	s.current.Store(s.newServed(m, newFallback(snap), info))
	d := now.Sub(start)

	s.metrics.loadDuration.WithLabelValues(string(src)).Observe(d.Seconds())
	s.metrics.modelInfo.Reset()
	s.metrics.modelInfo.WithLabelValues(info.Version, info.Digest, string(src)).Set(1)
	s.metrics.degraded.Set(0)
	s.updateReady()
	s.logger.Info("serving model", "version", info.Version, "digest", info.Digest, "source", src,
		"cacheHit", info.CacheHit, "duration", d)

	if p := snapshotPath(s.opts.CacheDir); p != "" {
		// Off the start-up path: readiness must not wait for an fsync.
		s.bg.Go(func() {
			s.snapMu.Lock()
			defer s.snapMu.Unlock()
			if s.current.Load().model != m {
				return // a newer model has been swapped in and writes its own
			}
			err := WriteSnapshot(p, Snapshot{Version: info.Version, Digest: info.Digest, TakenAt: now, Results: snap})
			if err != nil {
				s.logger.Warn("persisting popularity snapshot failed", "err", err)
			}
		})
	}
}

// loadFallback installs the persisted or configured popularity snapshot as
// the degraded state served until a model loads.
func (s *Server) loadFallback() {
	snap, path, err := loadSnapshot(s.opts.CacheDir, s.opts.FallbackPath)
	if err != nil {
		s.logger.Warn("popularity snapshot unusable; the fallback is empty", "err", err)
	}
	if path == "" {
		return
	}
	version := snap.Version
	if version == "" {
		version = NoVersion
	}
	s.current.Store(s.newServed(nil, newFallback(snap.Results), ModelInfo{
		Version: version, Digest: snap.Digest, Source: SourceFallback, Degraded: true, LoadedAt: s.opts.Clock.Now(),
	}))
	s.metrics.modelInfo.Reset()
	s.metrics.modelInfo.WithLabelValues(version, snap.Digest, string(SourceFallback)).Set(1)
	s.logger.Info("popularity fallback ready", "path", path, "items", len(snap.Results), "version", version)
}
