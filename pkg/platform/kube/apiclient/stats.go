package apiclient

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
)

// Stats is what a client asked of the API server since it was built:
// every request that reached the transport, the answers by status code, the
// densest second and the time requests spent queued in the client's rate
// limiter. It is a snapshot; the maps are copies.
type Stats struct {
	// Requests is the number of HTTP requests sent, retries included.
	Requests int64
	// ByVerb counts requests by Kubernetes verb: get, list, watch, create,
	// update, patch, delete, deletecollection (non-resource paths count as
	// get, post, ...).
	ByVerb map[string]int64
	// ByCall counts requests by verb and resource ("get nodes",
	// "create pods/eviction", "get /version").
	ByCall map[string]int64
	// ByStatus counts responses by HTTP status code.
	ByStatus map[int]int64
	// TransportErrors counts requests that got no response at all.
	TransportErrors int64
	// PeakPerSecond is the largest number of requests started within any
	// one-second window (a sliding window, not aligned to clock seconds).
	PeakPerSecond int
	// QPS and Burst are the client's configured limits; zero QPS means the
	// client is not rate limited.
	QPS   float32
	Burst int
	// LimiterWaits counts the requests that passed through the rate
	// limiter; LimiterWait is the time they spent in it in total and
	// LimiterMaxWait the longest single wait.
	LimiterWaits   int64
	LimiterWait    time.Duration
	LimiterMaxWait time.Duration
}

// TooManyRequests is the number of 429 answers (API Priority and Fairness or
// an eviction a PodDisruptionBudget refused).
func (s Stats) TooManyRequests() int64 { return s.ByStatus[http.StatusTooManyRequests] }

// Counter counts the requests of one client configuration. It is safe for
// concurrent use.
type Counter struct {
	clk   clock.PassiveClock
	qps   float32
	burst int

	mu        sync.Mutex
	requests  int64
	byVerb    map[string]int64
	byCall    map[string]int64
	byStatus  map[int]int64
	transport int64
	// window holds the start times of the requests of the last second,
	// oldest first.
	window  []time.Time
	peak    int
	waits   int64
	wait    time.Duration
	maxWait time.Duration
}

// NewCounter returns a counter that reports qps and burst as the client's
// limits and times requests with clk.
func NewCounter(clk clock.PassiveClock, qps float32, burst int) *Counter {
	return &Counter{
		clk: clk, qps: qps, burst: burst,
		byVerb: map[string]int64{}, byCall: map[string]int64{}, byStatus: map[int]int64{},
	}
}

// started records a request leaving for the server.
func (c *Counter) started(verb, resource string) {
	now := c.clk.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.byVerb[verb]++
	c.byCall[verb+" "+resource]++
	// Keep the requests of the window (now-1s, now]; the densest window
	// always ends at some request's start, so checking at each start finds
	// the peak exactly.
	cut := 0
	for cut < len(c.window) && !c.window[cut].After(now.Add(-time.Second)) {
		cut++
	}
	c.window = append(c.window[cut:], now)
	c.peak = max(c.peak, len(c.window))
}

// finished records a request's outcome: its status code, or err when no
// response came back.
func (c *Counter) finished(code int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.transport++
		return
	}
	c.byStatus[code]++
}

// waited records one pass through the rate limiter.
func (c *Counter) waited(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	c.wait += d
	c.maxWait = max(c.maxWait, d)
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Requests: c.requests, ByVerb: maps.Clone(c.byVerb), ByCall: maps.Clone(c.byCall), ByStatus: maps.Clone(c.byStatus),
		TransportErrors: c.transport, PeakPerSecond: c.peak, QPS: c.qps, Burst: c.burst,
		LimiterWaits: c.waits, LimiterWait: c.wait, LimiterMaxWait: c.maxWait,
	}
}

// Instrument makes cfg count its requests into c and share one rate limiter
// (cfg's own, or a token bucket of cfg.QPS and cfg.Burst) whose waits c
// times. Sharing matters: without a limiter in the config, every client
// built from it (the clientset, and the controller-runtime client once per
// kind) would get a token bucket of its own and together could exceed QPS.
func (c *Counter) Instrument(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, counter: c} })
	limiter := cfg.RateLimiter
	if limiter == nil && cfg.QPS > 0 {
		limiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	if limiter != nil {
		cfg.RateLimiter = &timedLimiter{RateLimiter: limiter, clk: c.clk, counter: c}
	}
}

// countingTransport counts every request and response through a client's
// transport.
type countingTransport struct {
	next    http.RoundTripper
	counter *Counter
}

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := requestVerb(req.Method, req.URL.Path, req.URL.Query().Get("watch"))
	t.counter.started(verb, resource)
	resp, err := t.next.RoundTrip(req)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	t.counter.finished(code, err)
	return resp, err
}

// WrappedRoundTripper returns the next transport, for client-go's
// transport inspection.
func (t *countingTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// timedLimiter times the waits of a rate limiter.
type timedLimiter struct {
	flowcontrol.RateLimiter
	clk     clock.PassiveClock
	counter *Counter
}

// Wait implements flowcontrol.RateLimiter; client-go calls it once before
// every request (and every retry).
func (l *timedLimiter) Wait(ctx context.Context) error {
	start := l.clk.Now()
	err := l.RateLimiter.Wait(ctx)
	l.counter.waited(l.clk.Since(start))
	return err
}

// Accept implements flowcontrol.RateLimiter.
func (l *timedLimiter) Accept() {
	start := l.clk.Now()
	l.RateLimiter.Accept()
	l.counter.waited(l.clk.Since(start))
}

// requestVerb names a request the way the API server's audit log does
// (get, list, watch, create, update, patch, delete, deletecollection) and
// returns its resource, with the subresource after a slash
// ("pods/eviction"). Paths outside /api and /apis are returned as they are
// with the lowercase method.
func requestVerb(method, path, watch string) (verb, resource string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(method), path
	}
	if len(parts) == 0 {
		return strings.ToLower(method), path // discovery of a group version
	}
	// namespaces/<ns>/<resource>/... addresses a namespaced resource;
	// namespaces and namespaces/<ns> the namespaces themselves.
	if parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	resource = parts[0]
	named := len(parts) > 1
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch == "true" || watch == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(method)
	}
	return verb, resource
}

// countsString renders counts as "k1=n1 k2=n2", sorted by the rendered key.
func countsString[K comparable](m map[K]int64, key func(K) string) string {
	keys := make([]string, 0, len(m))
	byKey := make(map[string]int64, len(m))
	for k, v := range m {
		s := key(k)
		keys = append(keys, s)
		byKey[s] = v
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, byKey[k])
	}
	return b.String()
}

// Verbs renders ByVerb as "create=10 get=3 list=2", sorted by verb.
func (s Stats) Verbs() string {
	return countsString(s.ByVerb, func(v string) string { return v })
}

// Statuses renders ByStatus as "200=40 201=10 429=2", sorted by code.
func (s Stats) Statuses() string {
	return countsString(s.ByStatus, func(c int) string { return fmt.Sprintf("%03d", c) })
}

// Calls renders ByCall as "create pods/eviction=10,get nodes=3", sorted.
func (s Stats) Calls() string {
	keys := make([]string, 0, len(s.ByCall))
	for k := range s.ByCall {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, s.ByCall[k])
	}
	return strings.Join(parts, ",")
}
