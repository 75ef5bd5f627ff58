package ociregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	// Registers the filesystem storage driver with the driver factory.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/firedrill/firedrill/pkg/httpdrain"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
)

// Options configure a Server.
type Options struct {
	// Addr is the listen address. Empty means 127.0.0.1:0 (any free port).
	// The host must be a loopback address unless AllowRemote is set.
	Addr string
	// AllowRemote accepts an address beyond loopback: a pod's IP, where the
	// pod network (and a NetworkPolicy) is the boundary. The registry has
	// no authentication.
	AllowRemote bool
	// Root is the storage directory. Required.
	Root string
	// Logger receives operator logs. Nil means the logger in Start's context.
	Logger *slog.Logger
}

func (o *Options) validate() error {
	if o.Root == "" {
		return errors.New("registry storage root is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("invalid registry address %q: %w", o.Addr, err)
	}
	if !o.AllowRemote && !loopback.Host(o.Addr) {
		return fmt.Errorf("registry address %q must be a loopback address (or allow remote clients)", o.Addr)
	}
	return nil
}

// Server is an in-process OCI registry.
type Server struct {
	opts Options

	mu     sync.Mutex
	app    *handlers.App
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
	srvErr error
	idle   httpdrain.IdleConns
}

// New validates opts and returns a Server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Server{opts: opts}, nil
}

// Start creates the storage directory, binds the listener and serves in the
// background until Stop.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("registry already started")
	}
	logger := s.opts.Logger
	if logger == nil {
		logger = log.FromContext(ctx)
	}
	routeLogs(logger)
	if err := os.MkdirAll(s.opts.Root, 0o755); err != nil {
		return fmt.Errorf("creating registry root: %w", err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("generating registry secret: %w", err)
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": s.opts.Root},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
			"redirect":    configuration.Parameters{"disable": true},
		},
	}
	cfg.HTTP.Secret = hex.EncodeToString(secret)

	app, err := newApp(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		_ = app.Shutdown()
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.app = app
	s.ln = ln
	s.srv = &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second, ConnState: s.idle.Track}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("registry stopped serving", "err", err)
			s.mu.Lock()
			s.srvErr = err
			s.mu.Unlock()
		}
	}()
	logger.Info("model store listening", "addr", ln.Addr().String(), "root", s.opts.Root)
	return nil
}

// newApp turns the panics of handlers.NewApp on bad configuration into an
// error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuring registry: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
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

// Stop stops accepting connections and waits for in-flight requests until
// ctx ends, then closes the rest.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, app, done := s.srv, s.app, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.SetKeepAlivesEnabled(false)
	s.idle.CloseAll()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	if serr := app.Shutdown(); serr != nil && err == nil {
		err = serr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err = s.srvErr
	}
	if err != nil {
		return fmt.Errorf("stopping registry: %w", err)
	}
	return nil
}
