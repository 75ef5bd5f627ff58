package frontdoor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
)

// Options configure a Server. Zero values are documented per field.
type Options struct {
	// Addr is the traffic address. Empty means 127.0.0.1:0.
	Addr string
	// ControlAddr is the control API address. Empty means 127.0.0.1:0.
	ControlAddr string
	// Primary is the preferred region; empty means the first region set.
	Primary string
	// HealthInterval is how often every backend's /readyz is checked.
	// Default 200ms.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check. Default 500ms.
	HealthTimeout time.Duration
	// Clock stamps switches and drives health checks; nil means real time.
	Clock clock.WithTicker
	// Logger receives operator logs; nil means the logger of Start's context.
	Logger *slog.Logger
}

func (o *Options) defaults() error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ControlAddr == "" {
		o.ControlAddr = "127.0.0.1:0"
	}
	for _, a := range []string{o.Addr, o.ControlAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("invalid address %q: %w", a, err)
		}
		if !loopback.Host(a) {
			return fmt.Errorf("address %q: the front door listens on loopback only", a)
		}
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 200 * time.Millisecond
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 500 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return nil
}

// backend is a backend with its health.
type backend struct {
	Backend
	healthy atomic.Bool
}

// region is a region with its backends and round-robin cursor.
type region struct {
	name     string
	backends []*backend
	next     atomic.Uint64
}

func (r *region) healthy() int {
	n := 0
	for _, b := range r.backends {
		if b.healthy.Load() {
			n++
		}
	}
	return n
}

// Server is the front door.
type Server struct {
	opts      Options
	transport *http.Transport
	checker   *http.Client

	mu       sync.RWMutex
	regions  []*region
	primary  string
	pinned   string
	active   string
	switches []Switch

	requests, retries, failures atomic.Int64

	ln, cln   net.Listener
	srv, csrv *http.Server
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	logger    *slog.Logger
}

// New returns a Server; Start runs it.
func New(opts Options) (*Server, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: time.Second}
	s := &Server{
		opts:    opts,
		primary: opts.Primary,
		transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		},
	}
	s.checker = &http.Client{
		Timeout:   opts.HealthTimeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
	}
	return s, nil
}

// Start listens on both addresses and starts health checking.
func (s *Server) Start(ctx context.Context) error {
	s.logger = s.opts.Logger
	if s.logger == nil {
		s.logger = log.FromContext(ctx)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	cln, err := lc.Listen(ctx, "tcp", s.opts.ControlAddr)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("listening on %s: %w", s.opts.ControlAddr, err)
	}
	s.ln, s.cln = ln, cln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.proxy), ReadHeaderTimeout: 5 * time.Second}
	s.csrv = &http.Server{Handler: s.controlHandler(), ReadHeaderTimeout: 5 * time.Second}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Go(func() { _ = s.srv.Serve(ln) })
	s.wg.Go(func() { _ = s.csrv.Serve(cln) })
	s.wg.Go(func() { s.healthLoop(runCtx) })
	return nil
}

// Addr is the traffic address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ControlAddr is the control API address.
func (s *Server) ControlAddr() string { return s.cln.Addr().String() }

// Stop shuts both listeners down, waiting for in-flight requests until ctx
// ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := errors.Join(s.srv.Shutdown(ctx), s.csrv.Shutdown(ctx))
	s.wg.Wait()
	s.transport.CloseIdleConnections()
	return err
}

// SetRegions replaces the backends, keeping the health of backends that
// stay (same name and URL); new backends start unhealthy until checked.
func (s *Server) SetRegions(regions []Region) {
	s.mu.Lock()
	old := map[string]*backend{}
	for _, r := range s.regions {
		for _, b := range r.backends {
			old[b.Name+" "+b.URL] = b
		}
	}
	next := make([]*region, 0, len(regions))
	for _, r := range regions {
		nr := &region{name: r.Name}
		for _, b := range r.Backends {
			if ob, ok := old[b.Name+" "+b.URL]; ok {
				nr.backends = append(nr.backends, ob)
				continue
			}
			nr.backends = append(nr.backends, &backend{Backend: Backend{Name: b.Name, URL: strings.TrimRight(b.URL, "/")}})
		}
		next = append(next, nr)
	}
	s.regions = next
	if s.primary == "" && len(next) > 0 {
		s.primary = next[0].name
	}
	s.mu.Unlock()
	s.evaluate("health")
	go s.checkAll(context.Background())
}

// SwitchTo pins traffic to a region; "" returns to automatic failover.
func (s *Server) SwitchTo(name string) error {
	s.mu.Lock()
	if name != "" && s.findLocked(name) == nil {
		s.mu.Unlock()
		return fmt.Errorf("unknown region %q", name)
	}
	s.pinned = name
	s.mu.Unlock()
	s.evaluate("manual")
	return nil
}

func (s *Server) findLocked(name string) *region {
	for _, r := range s.regions {
		if r.name == name {
			return r
		}
	}
	return nil
}

// evaluate recomputes the active region and records a switch.
func (s *Server) evaluate(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.chooseLocked()
	if next == s.active {
		return
	}
	sw := Switch{At: s.opts.Clock.Now(), From: s.active, To: next, Reason: reason}
	s.switches = append(s.switches, sw)
	s.active = next
	if s.logger != nil {
		s.logger.Info("traffic switched", "from", sw.From, "to", sw.To, "reason", reason)
	}
}

// chooseLocked picks the active region: the pinned one in manual mode;
// otherwise the current one while any of its backends is healthy, unless a
// region earlier in the failover order (the primary first) has every
// backend healthy again (failing back to a half-started region would put
// the whole load on a few cold replicas); otherwise the first region with a
// healthy backend.
func (s *Server) chooseLocked() string {
	if s.pinned != "" {
		return s.pinned
	}
	order := s.orderLocked()
	for _, r := range order {
		if r.name == s.active && r.healthy() > 0 {
			return r.name
		}
		if n := len(r.backends); n > 0 && r.healthy() == n {
			return r.name
		}
	}
	for _, r := range order {
		if r.healthy() > 0 {
			return r.name
		}
	}
	return ""
}

// orderLocked is the failover order: the primary, then the others in the
// order they were set.
func (s *Server) orderLocked() []*region {
	out := make([]*region, 0, len(s.regions))
	if p := s.findLocked(s.primary); p != nil {
		out = append(out, p)
	}
	for _, r := range s.regions {
		if r.name != s.primary {
			out = append(out, r)
		}
	}
	return out
}

// pick returns the next healthy backend of the active region that is not
// in exclude; in auto mode it falls back to the other regions in order.
func (s *Server) pick(exclude *backend) (*backend, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	regions := []*region{}
	if r := s.findLocked(s.active); r != nil {
		regions = append(regions, r)
	}
	if s.pinned == "" {
		for _, r := range s.orderLocked() {
			if r.name != s.active {
				regions = append(regions, r)
			}
		}
	}
	for _, r := range regions {
		n := len(r.backends)
		start := r.next.Add(1)
		for i := range n {
			b := r.backends[(int(start)+i)%n]
			if b != exclude && b.healthy.Load() {
				return b, r.name
			}
		}
	}
	return nil, ""
}

func (s *Server) healthLoop(ctx context.Context) {
	t := s.opts.Clock.NewTicker(s.opts.HealthInterval)
	defer t.Stop()
	for {
		s.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// checkAll checks every backend's readiness once, in parallel.
func (s *Server) checkAll(ctx context.Context) {
	s.mu.RLock()
	var all []*backend
	for _, r := range s.regions {
		all = append(all, r.backends...)
	}
	s.mu.RUnlock()
	var wg sync.WaitGroup
	changed := atomic.Bool{}
	for _, b := range all {
		wg.Go(func() {
			ok := s.check(ctx, b)
			if b.healthy.Swap(ok) != ok {
				changed.Store(true)
			}
		})
	}
	wg.Wait()
	if changed.Load() {
		s.evaluate("health")
	}
}

func (s *Server) check(ctx context.Context, b *backend) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := s.checker.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// hopHeaders are not forwarded.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// maxRetryBody is the largest request body kept for a retry.
const maxRetryBody = 1 << 20

// proxy forwards one request, retrying once on another backend when the
// first attempt fails before a response arrives.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
		if err != nil || len(b) > maxRetryBody {
			http.Error(w, `{"error":"request body unreadable or too large"}`, http.StatusBadRequest)
			return
		}
		body = b
	}
	var tried *backend
	var lastErr error
	for attempt := range 2 {
		b, regionName := s.pick(tried)
		if b == nil {
			break
		}
		resp, err := s.forward(r, b, body)
		if err != nil {
			lastErr = err
			if r.Context().Err() != nil {
				return
			}
			// Passive health: a backend that refuses connections is out
			// until the next successful check.
			if b.healthy.Swap(false) {
				s.evaluate("health")
			}
			tried = b
			if attempt == 0 {
				s.retries.Add(1)
			}
			continue
		}
		defer func() { _ = resp.Body.Close() }()
		h := w.Header()
		for k, vs := range resp.Header {
			h[k] = vs
		}
		h.Set("X-Firedrill-Region", regionName)
		h.Set("X-Firedrill-Backend", b.Name)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	s.failures.Add(1)
	msg := "no healthy backend"
	if lastErr != nil {
		msg = "backend unavailable: " + lastErr.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadGateway)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) forward(r *http.Request, b *backend, body []byte) (*http.Response, error) {
	url := b.URL + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	for k, vs := range r.Header {
		out.Header[k] = vs
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Header.Set("X-Forwarded-For", strings.Split(r.RemoteAddr, ":")[0])
	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name, err)
	}
	return resp, nil
}

// State reports the current state.
func (s *Server) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := State{Mode: ModeAuto, Primary: s.primary, Pinned: s.pinned, Active: s.active,
		Switches: append([]Switch{}, s.switches...), Regions: []Region{},
		Requests: s.requests.Load(), Retries: s.retries.Load(), Failures: s.failures.Load()}
	if s.pinned != "" {
		st.Mode = ModeManual
	}
	for _, r := range s.regions {
		rr := Region{Name: r.name, Backends: []Backend{}}
		for _, b := range r.backends {
			bb := b.Backend
			bb.Healthy = b.healthy.Load()
			rr.Backends = append(rr.Backends, bb)
		}
		st.Regions = append(st.Regions, rr)
	}
	return st
}

func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("PUT /v1/regions", func(w http.ResponseWriter, r *http.Request) {
		var in Regions
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.SetRegions(in.Regions)
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("POST /v1/switch", func(w http.ResponseWriter, r *http.Request) {
		var in SwitchRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err := s.SwitchTo(in.Region); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.State())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.State().Active == "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "no healthy region"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
