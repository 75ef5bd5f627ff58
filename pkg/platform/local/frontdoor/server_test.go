package frontdoor_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
)

// replica is a fake backend whose readiness can be flipped.
type replica struct {
	*httptest.Server
	ready atomic.Bool
	hits  atomic.Int64
}

func newReplica(t *testing.T) *replica {
	t.Helper()
	r := &replica{}
	r.ready.Store(true)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" {
			if !r.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		r.hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func startFrontDoor(t *testing.T, regions []frontdoor.Region) (*frontdoor.Server, *frontdoor.Client) {
	t.Helper()
	s, err := frontdoor.New(frontdoor.Options{Primary: regions[0].Name, HealthInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	c := &frontdoor.Client{Base: "http://" + s.ControlAddr()}
	require.NoError(t, c.SetRegions(context.Background(), regions))
	require.Eventually(t, func() bool { return s.State().Active == regions[0].Name }, 5*time.Second, 5*time.Millisecond)
	return s, c
}

func call(t *testing.T, s *frontdoor.Server) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/v1/recommendations?user=u1") //nolint:noctx // test.
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Firedrill-Region")
}

func TestRoundRobinSkipsUnreadyAndRetries(t *testing.T) {
	a, b, c := newReplica(t), newReplica(t), newReplica(t)
	s, _ := startFrontDoor(t, []frontdoor.Region{{Name: "east", Backends: []frontdoor.Backend{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}, {Name: "c", URL: c.URL}}}})
	for range 30 {
		code, _ := call(t, s)
		require.Equal(t, http.StatusOK, code)
	}
	for _, r := range []*replica{a, b, c} {
		require.Equal(t, int64(10), r.hits.Load(), "round robin spreads requests evenly")
	}

	b.ready.Store(false)
	require.Eventually(t, func() bool { return !s.State().Regions[0].Backends[1].Healthy }, 5*time.Second, 5*time.Millisecond)
	before := b.hits.Load()
	for range 10 {
		code, _ := call(t, s)
		require.Equal(t, http.StatusOK, code)
	}
	require.Equal(t, before, b.hits.Load(), "an unready replica gets no traffic")

	// A replica that dies between health checks: its requests are retried.
	c.Close()
	for range 10 {
		code, _ := call(t, s)
		require.Equal(t, http.StatusOK, code, "a connection error is retried on another replica")
	}
	// Either a request met the dead replica and was retried, or the health
	// check saw it die first; no request failed either way.
	st := s.State()
	require.True(t, st.Retries >= 1 || !st.Regions[0].Backends[2].Healthy, "the dead replica was neither retried around nor marked unhealthy")
}

// TestConnectionErrorsAreRetried holds the retry itself: health checks are
// too rare to notice the dead replica, so every request that meets it must
// be retried on another.
func TestConnectionErrorsAreRetried(t *testing.T) {
	a, c := newReplica(t), newReplica(t)
	s, err := frontdoor.New(frontdoor.Options{Primary: "east", HealthInterval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	client := &frontdoor.Client{Base: "http://" + s.ControlAddr()}
	require.NoError(t, client.SetRegions(context.Background(), []frontdoor.Region{{Name: "east", Backends: []frontdoor.Backend{{Name: "a", URL: a.URL}, {Name: "c", URL: c.URL}}}}))
	require.Eventually(t, func() bool { return s.State().Active == "east" }, 5*time.Second, 5*time.Millisecond)
	c.Close()
	for range 4 {
		code, _ := call(t, s)
		require.Equal(t, http.StatusOK, code, "a connection error is retried on another replica")
	}
	require.GreaterOrEqual(t, s.State().Retries, int64(1))
}

func TestFailoverByHealthAndManualSwitch(t *testing.T) {
	e1, e2, w1 := newReplica(t), newReplica(t), newReplica(t)
	s, c := startFrontDoor(t, []frontdoor.Region{
		{Name: "east", Backends: []frontdoor.Backend{{Name: "e1", URL: e1.URL}, {Name: "e2", URL: e2.URL}}},
		{Name: "west", Backends: []frontdoor.Backend{{Name: "w1", URL: w1.URL}}},
	})
	_, region := call(t, s)
	require.Equal(t, "east", region)

	// The whole primary region dies: once its replicas are marked down
	// (passively, by failed requests, or by the health check) requests go
	// west, and the front door switches by health.
	e1.Close()
	e2.Close()
	require.Eventually(t, func() bool {
		code, region := call(t, s)
		return code == http.StatusOK && region == "west"
	}, 5*time.Second, time.Millisecond)
	for range 5 {
		code, region := call(t, s)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "west", region)
	}
	require.Eventually(t, func() bool { return s.State().Active == "west" }, 5*time.Second, 5*time.Millisecond)

	// Manual: pinned to west, even though east comes back.
	st, err := c.SwitchTo(context.Background(), "west")
	require.NoError(t, err)
	require.Equal(t, frontdoor.ModeManual, st.Mode)
	n1, n2 := newReplica(t), newReplica(t)
	require.NoError(t, c.SetRegions(context.Background(), []frontdoor.Region{
		{Name: "east", Backends: []frontdoor.Backend{{Name: "e3", URL: n1.URL}, {Name: "e4", URL: n2.URL}}},
		{Name: "west", Backends: []frontdoor.Backend{{Name: "w1", URL: w1.URL}}},
	}))
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, "west", s.State().Active, "manual mode does not fail back by itself")
	_, err = c.SwitchTo(context.Background(), "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.State().Active == "east" }, 5*time.Second, 5*time.Millisecond, "auto mode fails back to the healthy primary")
	sw := s.State().Switches
	require.GreaterOrEqual(t, len(sw), 3)
	require.Equal(t, "west", sw[1].To)
	require.Equal(t, "health", sw[1].Reason)

	_, err = c.SwitchTo(context.Background(), "mars")
	require.ErrorContains(t, err, "unknown region")
}

func TestNoBackendIsBadGateway(t *testing.T) {
	s, err := frontdoor.New(frontdoor.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	defer func() { require.NoError(t, s.Stop(context.Background())) }()
	code, _ := call(t, s)
	require.Equal(t, http.StatusBadGateway, code)
}

func TestOptionsRefuseNonLoopback(t *testing.T) {
	_, err := frontdoor.New(frontdoor.Options{Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "loopback")
	_, err = frontdoor.New(frontdoor.Options{Addr: "127.0.0.1:0", ControlAddr: net.JoinHostPort("8.8.8.8", "1")})
	require.Error(t, err)
}
