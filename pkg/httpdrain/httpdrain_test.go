package httpdrain

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShutdownDoesNotWaitForUnusedConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var idle IdleConns
	srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: idle.Track, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String()) // dialled ahead, never used
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.Eventually(t, func() bool { idle.mu.Lock(); defer idle.mu.Unlock(); return len(idle.conns) == 1 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	idle.CloseAll()
	require.NoError(t, srv.Shutdown(context.Background()))
	require.Less(t, time.Since(start), 2*time.Second, "Shutdown would wait 5 s for the unused connection")
}
