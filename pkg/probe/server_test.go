package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Modes of the switchable test server.
const (
	modeOK int32 = iota
	mode503
	modeSlow    // every request takes slowDelay
	modePartial // every third request answers 502
)

const slowDelay = 500 * time.Millisecond

// switchServer is a real HTTP server on 127.0.0.1 that a test can take down
// (listener and every connection closed: connections are refused), bring
// back on the same port, or switch between behaviours.
type switchServer struct {
	t       testing.TB
	addr    string
	mode    atomic.Int32
	count   atomic.Int64
	handler http.Handler

	mu  sync.Mutex
	srv *http.Server
	// done is closed when the current Serve returns.
	done chan struct{}
}

func newSwitchServer(tb testing.TB, handler http.Handler) *switchServer {
	tb.Helper()
	s := &switchServer{t: tb}
	if handler == nil {
		handler = http.HandlerFunc(s.serve)
	}
	s.handler = handler
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	s.addr = ln.Addr().String()
	s.start(ln)
	tb.Cleanup(func() { s.down() })
	return s
}

func (s *switchServer) url() string { return "http://" + s.addr }

func (s *switchServer) serve(w http.ResponseWriter, r *http.Request) {
	n := s.count.Add(1)
	switch s.mode.Load() {
	case mode503:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case modeSlow:
		select {
		case <-time.After(slowDelay):
		case <-r.Context().Done():
			return
		}
	case modePartial:
		if n%3 == 0 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
	}
	_, _ = w.Write([]byte(`{"items":[]}`))
}

func (s *switchServer) start(ln net.Listener) {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("serving: %v", err)
		}
	}()
	s.mu.Lock()
	s.srv, s.done = srv, done
	s.mu.Unlock()
}

// down closes the listener and every connection; it returns the instant the
// service stopped accepting.
func (s *switchServer) down() time.Time {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return time.Now()
	}
	at := time.Now()
	_ = srv.Close()
	<-done
	return at
}

// up listens on the same address again; it returns the instant the service
// accepts connections.
func (s *switchServer) up() time.Time {
	var ln net.Listener
	require.Eventually(s.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", s.addr)
		return err == nil
	}, 2*time.Second, time.Millisecond, "re-listening on %s", s.addr)
	at := time.Now()
	s.start(ln)
	return at
}

// switchMode changes the behaviour and returns the instant it took effect.
func (s *switchServer) switchMode(m int32) time.Time {
	s.mode.Store(m)
	return time.Now()
}

// runProber starts p and returns a function that stops it and waits.
func runProber(tb testing.TB, p *Prober) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(tb, <-errc)
		})
	}
	tb.Cleanup(stop)
	return stop
}

func oneRoute() []Template {
	return []Template{{Name: "recommend", Path: "/v1/recommendations?user={user}&k=10"}}
}

func testPools() Pools {
	return Pools{Users: []string{"u1", "u2", "u3"}, Items: []string{"i1", "i2"}, Queries: []string{"red shoes"}}
}
