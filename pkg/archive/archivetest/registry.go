package archivetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	// Registers the htpasswd access controller.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	// Registers the filesystem storage driver.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/sirupsen/logrus" //nolint:depguard // distribution logs only through logrus; tests silence it.
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// Registry starts the embedded distribution registry the model store
// uses (pkg/recommender/store/ociregistry) on 127.0.0.1:0 and returns the
// running server; it stops when the test ends.
func Registry(tb testing.TB) *ociregistry.Server {
	tb.Helper()
	srv, err := ociregistry.New(ociregistry.Options{Root: tb.TempDir(), Logger: log.Discard()})
	require.NoError(tb, err)
	require.NoError(tb, srv.Start(context.Background()))
	tb.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}

// AuthRegistry starts the same distribution registry code with its
// htpasswd access controller, which accepts only user and password, on
// 127.0.0.1:0, and returns its address. The model store's embedded
// registry has no authentication option; this is the configuration a team
// would run, minus TLS. It stops when the test ends.
func AuthRegistry(tb testing.TB, user, password string) string {
	tb.Helper()
	logrus.SetOutput(io.Discard)
	dir := tb.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(tb, err)
	htpasswd := filepath.Join(dir, "htpasswd")
	require.NoError(tb, os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600))
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": filepath.Join(dir, "data")},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
		Auth: configuration.Auth{"htpasswd": configuration.Parameters{"realm": "firedrill-test", "path": htpasswd}},
	}
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	app := handlers.NewApp(context.Background(), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		_ = srv.Close()
		_ = app.Shutdown()
	})
	return ln.Addr().String()
}

// Proxy forwards TCP connections to a target, and can go away like a
// registry whose machine dies: Cut closes every connection and the
// listener at once, Resume listens again on the same address.
type Proxy struct {
	target string

	mu       sync.Mutex
	addr     string
	ln       net.Listener
	conns    map[net.Conn]bool
	sent     int64
	cutAt    int64
	onCut    func()
	cuts     int
	accepted int
}

// NewProxy starts a proxy to target on 127.0.0.1:0; it stops when the test
// ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.addr }

// CutAfter makes the proxy Cut once it has forwarded n more bytes from
// clients to the target, in the middle of whatever request carries them,
// and then call then (nil: nothing).
func (p *Proxy) CutAfter(n int64, then func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutAt, p.onCut = p.sent+n, then
}

// Sent is how many bytes clients sent through the proxy.
func (p *Proxy) Sent() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// Cuts is how many times the proxy went away.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Accepted is how many connections the proxy accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Cut closes the listener and every connection: clients see their
// requests fail mid-way and new connections refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutLocked()
}

func (p *Proxy) cutLocked() {
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
		p.cuts++
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Resume listens again on the proxy's address.
func (p *Proxy) Resume(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(tb, err)
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

func (p *Proxy) handle(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.accepted++
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(c, up)
		_ = c.Close()
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			n = p.account(n)
			if n > 0 {
				if _, werr := up.Write(buf[:n]); werr != nil {
					break
				}
			}
		}
		if err != nil || n == 0 && p.isCut() {
			break
		}
	}
	_ = up.Close()
}

// account counts n bytes about to be forwarded and returns how many may
// go through before a cut, cutting when the threshold is reached.
func (p *Proxy) account(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutAt > 0 && p.sent+int64(n) >= p.cutAt {
		allowed := int(p.cutAt - p.sent)
		p.sent = p.cutAt
		p.cutAt = 0
		p.cutLocked()
		if p.onCut != nil {
			go p.onCut()
		}
		return max(allowed, 0)
	}
	p.sent += int64(n)
	return n
}

func (p *Proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln == nil
}
