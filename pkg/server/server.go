package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/firedrill/firedrill/pkg/httpdrain"
	"github.com/firedrill/firedrill/pkg/log"
)

// DefaultAddr is where the API listens unless told otherwise: loopback
// only.
const DefaultAddr = "127.0.0.1:8090"

// Limits of what a request may ask.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 64 << 10
	// MaxLimit is the largest limit a run listing takes.
	MaxLimit = 10_000
	// MaxReasonLength bounds an abort's reason, in bytes.
	MaxReasonLength = 1024
)

// Options configure a Server. Zero values are documented per field.
type Options struct {
	// Addr is the listen address. Empty means DefaultAddr; 127.0.0.1:0
	// picks a free port (see Addr).
	Addr string
	// Backend is what the API serves. Required.
	Backend Backend
	// Authenticator says who a request comes from. Required.
	Authenticator Authenticator
	// Authorizer says what they may do. Required.
	Authorizer Authorizer
	// Gatherer is what /metrics serves. Nil means no /metrics (404).
	Gatherer prometheus.Gatherer
	// Ready is what /readyz reports: nil error means ready. Nil means
	// ready as soon as the server listens.
	Ready func() error
	// TLSCertFile and TLSKeyFile, both set, make the server speak HTTPS
	// with that certificate; both empty means plain HTTP.
	TLSCertFile, TLSKeyFile string
	// Logger logs requests that change something and failures; nil means
	// the logger of Start's context.
	Logger *slog.Logger
	// UI builds the handler of every path the API, the probes and
	// /metrics do not take, from the server's Backend, Authenticator and
	// Authorizer: the dashboard (pkg/server/dashboard's ForServer), which
	// authenticates and authorizes its own requests. Nil means 404 there.
	UI func(Backend, Authenticator, Authorizer) (http.Handler, error)
}

func (o *Options) validate() error {
	var errs []error
	if o.Backend == nil {
		errs = append(errs, errors.New("a Backend is required"))
	}
	if o.Authenticator == nil {
		errs = append(errs, errors.New("an Authenticator is required"))
	}
	if o.Authorizer == nil {
		errs = append(errs, errors.New("an Authorizer is required"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("a TLS certificate and its key go together: set both or neither"))
	}
	return errors.Join(errs...)
}

// Server is the HTTP API of drill serve. Create it with New, then Start
// and Stop it; Handler serves it without a listener.
type Server struct {
	opts    Options
	handler http.Handler

	mu     sync.Mutex
	logger *slog.Logger
	ln     net.Listener
	srv    *http.Server
	served chan struct{}
	srvErr error
	idle   httpdrain.IdleConns
}

// New checks opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid API server options: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	s := &Server{opts: opts, logger: opts.Logger}
	if s.logger == nil {
		s.logger = log.Discard()
	}
	var ui http.Handler
	if opts.UI != nil {
		var err error
		if ui, err = opts.UI(opts.Backend, opts.Authenticator, opts.Authorizer); err != nil {
			return nil, fmt.Errorf("building the UI: %w", err)
		}
	}
	s.handler = s.routes(ui)
	return s, nil
}

// Handler is the API as an http.Handler, for tests and for mounting it
// in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the listener and serves until Stop. ctx supplies the logger
// when Options.Logger is nil.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("the API server is already started")
	}
	if s.opts.Logger == nil {
		s.logger = log.FromContext(ctx)
	}
	var cert tls.Certificate
	if s.opts.TLSCertFile != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(s.opts.TLSCertFile, s.opts.TLSKeyFile); err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	if s.opts.TLSCertFile != "" {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnState:         s.idle.Track,
		BaseContext:       func(net.Listener) context.Context { return log.IntoContext(context.Background(), s.logger) },
	}
	s.served = make(chan struct{})
	srv, served := s.srv, s.served
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("the API server stopped", "err", err)
			s.mu.Lock()
			s.srvErr = err
			s.mu.Unlock()
		}
	}()
	s.logger.Info("API listening", "addr", ln.Addr().String(), "tls", s.opts.TLSCertFile != "")
	return nil
}

// Addr is the address the server listens on, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting connections and waits for the requests in flight
// until ctx ends, then closes what is left.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, served := s.srv, s.served
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.SetKeepAlivesEnabled(false)
	s.idle.CloseAll()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("draining the API server: %w", err)
	}
	<-served
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.srvErr != nil {
		err = s.srvErr
	}
	return err
}

// routes builds the handler: the probes, /metrics, the API and the UI.
func (s *Server) routes(ui http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.opts.Gatherer != nil {
		metrics := promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)})
		mux.Handle(PathMetrics, s.guard(func(r *http.Request) (Attributes, bool) {
			return Attributes{Verb: VerbGet, Path: PathMetrics}, r.Method == http.MethodGet || r.Method == http.MethodHead
		}, metrics))
	}
	mux.Handle("/api/", s.authenticate(s.api()))
	if ui != nil {
		mux.Handle("/", ui)
	}
	return headers(mux)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ok\n")
}

// headers sets the headers every response carries.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
