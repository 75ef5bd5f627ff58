package storeproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/platform/local/storeproxy"
)

func TestToxics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer up.Close()
	p := storeproxy.New()
	defer p.Close()
	addr, err := p.Add("store", up.Listener.Addr().String())
	require.NoError(t, err)
	get := func(timeout time.Duration) (time.Duration, error) {
		t0 := time.Now()
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/") //nolint:noctx // test.
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return time.Since(t0), nil
	}
	tests := []struct {
		name   string
		inject func() error
		check  func(t *testing.T)
	}{
		{"slow adds latency", func() error { return p.Slow("store", 300*time.Millisecond) }, func(t *testing.T) {
			t.Helper()
			d, err := get(2 * time.Second)
			require.NoError(t, err)
			require.GreaterOrEqual(t, d, 300*time.Millisecond)
			require.Equal(t, "slow", p.Toxic("store"))
		}},
		{"hang never answers", func() error { return p.Hang("store") }, func(t *testing.T) {
			t.Helper()
			_, err := get(300 * time.Millisecond)
			require.Error(t, err)
			require.Equal(t, "hang", p.Toxic("store"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.inject())
			require.NoError(t, tt.inject(), "injecting is idempotent")
			tt.check(t)
			require.NoError(t, p.Heal(context.Background(), "store"))
			require.NoError(t, p.Heal(context.Background(), "store"), "healing is idempotent")
			require.Empty(t, p.Toxic("store"))
			d, err := get(2 * time.Second)
			require.NoError(t, err)
			require.Less(t, d, 300*time.Millisecond)
		})
	}

	// A new upstream keeps the proxy's address.
	up2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "two") }))
	defer up2.Close()
	require.NoError(t, p.SetUpstream("store", up2.Listener.Addr().String()))
	got, err := p.Addr("store")
	require.NoError(t, err)
	require.Equal(t, addr, got)
	_, err = get(2 * time.Second)
	require.NoError(t, err)
}
