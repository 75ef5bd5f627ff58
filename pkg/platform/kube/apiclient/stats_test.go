package apiclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestRequestVerb(t *testing.T) {
	tests := []struct {
		name, method, path, watch string
		verb, resource            string
	}{
		{name: "a core object is a get", method: "GET", path: "/api/v1/nodes/gpu-1", verb: "get", resource: "nodes"},
		{name: "a core collection is a list", method: "GET", path: "/api/v1/nodes", verb: "list", resource: "nodes"},
		{name: "a namespaced collection is a list", method: "GET", path: "/api/v1/namespaces/recsys/pods", verb: "list", resource: "pods"},
		{name: "watch=true makes a watch", method: "GET", path: "/apis/apps/v1/namespaces/recsys/deployments", watch: "true", verb: "watch", resource: "deployments"},
		{name: "a namespace itself is a get of namespaces", method: "GET", path: "/api/v1/namespaces/recsys", verb: "get", resource: "namespaces"},
		{name: "the namespace list is a list", method: "GET", path: "/api/v1/namespaces", verb: "list", resource: "namespaces"},
		{name: "an eviction is a create of a subresource", method: "POST", path: "/api/v1/namespaces/recsys/pods/p-1/eviction", verb: "create", resource: "pods/eviction"},
		{name: "a group resource patch", method: "PATCH", path: "/apis/apps/v1/namespaces/recsys/deployments/d", verb: "patch", resource: "deployments"},
		{name: "a status update", method: "PUT", path: "/api/v1/nodes/n/status", verb: "update", resource: "nodes/status"},
		{name: "a delete of one object", method: "DELETE", path: "/api/v1/namespaces/recsys/pods/p", verb: "delete", resource: "pods"},
		{name: "a delete of a collection", method: "DELETE", path: "/api/v1/namespaces/recsys/pods", verb: "deletecollection", resource: "pods"},
		{name: "a non-resource path keeps its method", method: "GET", path: "/version", verb: "get", resource: "/version"},
		{name: "group discovery keeps its method", method: "GET", path: "/apis/apps/v1", verb: "get", resource: "/apis/apps/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verb, resource := requestVerb(tt.method, tt.path, tt.watch)
			require.Equal(t, tt.verb, verb)
			require.Equal(t, tt.resource, resource)
		})
	}
}

func TestPeakPerSecond(t *testing.T) {
	tests := []struct {
		name string
		// gaps are the times between consecutive request starts.
		gaps []time.Duration
		want int
	}{
		{name: "no request has no peak", want: 0},
		{name: "one request is a peak of one", gaps: []time.Duration{0}, want: 1},
		{name: "requests a second apart never share a window", gaps: []time.Duration{0, time.Second, time.Second, time.Second}, want: 1},
		{name: "a burst counts every request in it", gaps: []time.Duration{0, 0, 0, 0, 0}, want: 5},
		{
			name: "the densest window need not start on a clock second",
			// 3 requests at 0.6-0.9 s and 3 at 1.1-1.3 s: 6 within 0.7 s.
			gaps: []time.Duration{600 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
			want: 6,
		},
		{
			name: "a request exactly one second later starts a new window",
			gaps: []time.Duration{0, 500 * time.Millisecond, 500 * time.Millisecond},
			want: 2,
		},
		{
			name: "an early burst is remembered after a quiet spell",
			gaps: []time.Duration{0, 0, 0, 0, 10 * time.Second, 100 * time.Millisecond},
			want: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
			c := NewCounter(clk, 50, 100)
			for _, g := range tt.gaps {
				clk.SetTime(clk.Now().Add(g))
				c.started("get", "nodes")
			}
			s := c.Snapshot()
			require.Equal(t, tt.want, s.PeakPerSecond)
			require.Equal(t, int64(len(tt.gaps)), s.Requests)
		})
	}
}

// fakeLimiter is a rate limiter that makes every Wait take a fixed time on
// a fake clock.
type fakeLimiter struct {
	flowcontrol.RateLimiter
	clk  *clocktesting.FakePassiveClock
	cost time.Duration
	err  error
}

func (l *fakeLimiter) Wait(context.Context) error {
	l.clk.SetTime(l.clk.Now().Add(l.cost))
	return l.err
}

func TestLimiterWaitsAreTimed(t *testing.T) {
	tests := []struct {
		name     string
		costs    []time.Duration
		err      error
		wantSum  time.Duration
		wantMax  time.Duration
		wantWait int64
	}{
		{name: "no wait is zero", costs: []time.Duration{0, 0}, wantWait: 2},
		{name: "waits add up and the longest is kept", costs: []time.Duration{10 * time.Millisecond, 300 * time.Millisecond, 20 * time.Millisecond}, wantSum: 330 * time.Millisecond, wantMax: 300 * time.Millisecond, wantWait: 3},
		{name: "a wait cut short by its context still counts", costs: []time.Duration{time.Second}, err: context.Canceled, wantSum: time.Second, wantMax: time.Second, wantWait: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
			c := NewCounter(clk, 50, 100)
			fake := &fakeLimiter{clk: clk, err: tt.err}
			l := &timedLimiter{RateLimiter: fake, clk: clk, counter: c}
			for _, cost := range tt.costs {
				fake.cost = cost
				require.ErrorIs(t, l.Wait(t.Context()), tt.err)
			}
			s := c.Snapshot()
			require.Equal(t, tt.wantWait, s.LimiterWaits)
			require.Equal(t, tt.wantSum, s.LimiterWait)
			require.Equal(t, tt.wantMax, s.LimiterMaxWait)
		})
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCountingTransport(t *testing.T) {
	errRefused := errors.New("connection refused")
	tests := []struct {
		name       string
		code       int
		err        error
		wantStatus map[int]int64
		want429    int64
		wantErrors int64
	}{
		{name: "a 200 is counted by code", code: http.StatusOK, wantStatus: map[int]int64{200: 1}},
		{name: "a 429 is counted as too many requests", code: http.StatusTooManyRequests, wantStatus: map[int]int64{429: 1}, want429: 1},
		{name: "no response is a transport error", err: errRefused, wantStatus: map[int]int64{}, wantErrors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
			c := NewCounter(clk, 50, 100)
			rt := &countingTransport{counter: c, next: roundTripFunc(func(*http.Request) (*http.Response, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &http.Response{StatusCode: tt.code, Body: io.NopCloser(strings.NewReader(""))}, nil
			})}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://127.0.0.1:1/api/v1/namespaces/recsys/pods?watch=true", nil)
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.ErrorIs(t, err, tt.err)
			s := c.Snapshot()
			require.Equal(t, int64(1), s.Requests)
			require.Equal(t, map[string]int64{"watch": 1}, s.ByVerb)
			require.Equal(t, map[string]int64{"watch pods": 1}, s.ByCall)
			require.Equal(t, tt.wantStatus, s.ByStatus)
			require.Equal(t, tt.want429, s.TooManyRequests())
			require.Equal(t, tt.wantErrors, s.TransportErrors)
		})
	}
}

func TestInstrumentSharesOneLimiter(t *testing.T) {
	tests := []struct {
		name    string
		cfg     rest.Config
		wantQPS float32
		wantNil bool
	}{
		{name: "QPS and burst become one shared token bucket", cfg: rest.Config{Host: "https://127.0.0.1:1", QPS: 50, Burst: 100}, wantQPS: 50},
		{name: "a caller's limiter is kept and timed", cfg: rest.Config{Host: "https://127.0.0.1:1", RateLimiter: flowcontrol.NewTokenBucketRateLimiter(7, 3)}, wantQPS: 7},
		{name: "no QPS leaves the client unlimited", cfg: rest.Config{Host: "https://127.0.0.1:1", QPS: -1}, wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			c := NewCounter(clocktesting.NewFakePassiveClock(time.Now()), cfg.QPS, cfg.Burst)
			c.Instrument(&cfg)
			if tt.wantNil {
				require.Nil(t, cfg.RateLimiter)
				return
			}
			require.IsType(t, &timedLimiter{}, cfg.RateLimiter)
			require.InDelta(t, tt.wantQPS, cfg.RateLimiter.QPS(), 1e-6)
			cs, err := kubernetes.NewForConfig(&cfg)
			require.NoError(t, err)
			// Every group's client takes its tokens from the same bucket.
			require.Same(t, cfg.RateLimiter, cs.CoreV1().RESTClient().GetRateLimiter())
			require.Same(t, cfg.RateLimiter, cs.AppsV1().RESTClient().GetRateLimiter())
			require.Same(t, cfg.RateLimiter, cs.PolicyV1().RESTClient().GetRateLimiter())
		})
	}
}

// TestPlatformCountsItsRequestsAndLogsThemAtStop drives a platform built by
// New against a loopback server that answers a node list and refuses a
// node get with 429.
func TestClientsShareOneCounterAndLimiter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/nodes":
			_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[]}`))
		case "/api":
			_, _ = w.Write([]byte(`{"kind":"APIVersions","versions":["v1"]}`))
		case "/apis":
			_, _ = w.Write([]byte(`{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`))
		case "/api/v1":
			_, _ = w.Write([]byte(`{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"nodes","namespaced":false,"kind":"Node","verbs":["get","list"]}]}`))
		default:
			// No Retry-After: client-go does not retry, so one request is sent.
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429}`))
		}
	}))
	defer srv.Close()

	cs, err := New(&rest.Config{Host: srv.URL, QPS: 50, Burst: 100}, clocktesting.NewFakePassiveClock(time.Now()))
	require.NoError(t, err)
	ctx := t.Context()
	_, err = cs.Clientset.CoreV1().Nodes().Get(ctx, "gpu-1", metav1.GetOptions{})
	require.True(t, apierrors.IsTooManyRequests(err), "got %v", err)
	before := cs.Counter.Snapshot().Requests
	require.NoError(t, cs.Client.List(ctx, &corev1.NodeList{}))

	s := cs.Counter.Snapshot()
	require.Equal(t, int64(1), s.ByCall["get nodes"], "the clientset's request is counted")
	require.Equal(t, int64(1), s.ByCall["list nodes"], "the controller-runtime client's request is counted")
	require.Greater(t, s.Requests, before, "discovery for the REST mapper is counted too")
	require.Equal(t, int64(1), s.TooManyRequests())
	require.Equal(t, s.Requests, s.LimiterWaits, "every request passed the one shared limiter")
	require.InDelta(t, float32(50), s.QPS, 1e-6)
	require.Equal(t, 100, s.Burst)
}
