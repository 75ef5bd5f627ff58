package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/evidence"
)

func TestNewValidatesOptions(t *testing.T) {
	valid := Options{Endpoint: "http://127.0.0.1:1", Templates: oneRoute(), Pools: testPools()}
	tests := []struct {
		name    string
		mutate  func(o *Options)
		wantErr []string
	}{
		{name: "valid options with defaults are accepted", mutate: func(*Options) {}},
		{name: "a missing endpoint is refused", mutate: func(o *Options) { o.Endpoint = "" }, wantErr: []string{"endpoint: required"}},
		{name: "a non-http endpoint is refused", mutate: func(o *Options) { o.Endpoint = "ftp://x" }, wantErr: []string{"scheme must be http or https"}},
		{name: "a negative rate is refused", mutate: func(o *Options) { o.Rate = -1 }, wantErr: []string{"rate: must be positive"}},
		{name: "no templates are refused", mutate: func(o *Options) { o.Templates = nil }, wantErr: []string{"templates: at least one"}},
		{
			name: "every template problem is reported at once",
			mutate: func(o *Options) {
				o.Templates = []Template{{Path: "x"}, {Name: "b", Path: "/{item}", Weight: -2}}
				o.Pools.Items = nil
			},
			wantErr: []string{"templates[0].name: required", "templates[0].path: must start with /", "templates[1].weight", "templates[1].path: uses {item} but the pool is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			o.Templates = append([]Template(nil), valid.Templates...)
			tt.mutate(&o)
			p, err := New(o)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				require.Equal(t, DefaultRate, p.opts.Rate)
				require.Equal(t, DefaultTimeout, p.opts.Timeout)
				require.Equal(t, 2*DefaultRate+16, p.opts.MaxWorkers)
				require.Equal(t, http.MethodGet, p.opts.Templates[0].Method)
				return
			}
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestPickerFillsAndEscapesTemplates(t *testing.T) {
	pools := Pools{Users: []string{"a b/c"}, Items: []string{"x/y?z"}, Queries: []string{"red & blue=1"}}
	tmpls := []Template{{Name: "t", Path: "/v1/items/{item}/similar?user={user}&q={query}", Weight: 1}}
	p := newPicker("http://h", tmpls, pools, 1)
	_, u := p.next()
	require.Equal(t, "http://h/v1/items/x%2Fy%3Fz/similar?user=a+b%2Fc&q=red+%26+blue%3D1", u)
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	require.Equal(t, "/v1/items/x/y?z/similar", parsed.Path)
	require.Equal(t, "a b/c", parsed.Query().Get("user"))
	require.Equal(t, "red & blue=1", parsed.Query().Get("q"))
}

func TestPickerHonoursWeightsAndSeed(t *testing.T) {
	tmpls := []Template{{Name: "a", Path: "/a", Weight: 3}, {Name: "b", Path: "/b", Weight: 1}, {Name: "never", Path: "/n", Weight: 0}}
	o, err := Options{Endpoint: "http://h", Templates: tmpls}.withDefaults()
	require.NoError(t, err)
	o.Templates[2].Weight = 0 // a zero weight after defaulting would be 1; check true zero is never picked
	count := func(seed int64) ([3]int, []int) {
		p := newPicker("http://h", o.Templates, Pools{}, seed)
		var n [3]int
		var seq []int
		for range 8000 {
			i, _ := p.next()
			n[i]++
			seq = append(seq, i)
		}
		return n, seq
	}
	n, seq := count(7)
	require.Zero(t, n[2])
	require.InDelta(t, 6000, n[0], 200, "weight 3 of 4")
	require.InDelta(t, 2000, n[1], 200, "weight 1 of 4")
	_, again := count(7)
	require.Equal(t, seq, again, "the same seed gives the same picks")
}

func TestClassifyMapsNetErrors(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	tests := []struct {
		name   string
		ctxErr error
		err    error
		want   evidence.ErrorClass
	}{
		{name: "a refused dial is refused", err: &url.Error{Op: "Get", Err: opErr(syscall.ECONNREFUSED)}, want: evidence.ClassRefused},
		{name: "a reset connection is reset", err: &url.Error{Op: "Get", Err: opErr(syscall.ECONNRESET)}, want: evidence.ClassReset},
		{name: "an unexpected EOF is reset", err: &url.Error{Op: "Get", Err: io.ErrUnexpectedEOF}, want: evidence.ClassReset},
		{name: "a failed lookup is dns", err: &url.Error{Op: "Get", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}}, want: evidence.ClassDNS},
		{name: "a deadline is a timeout", err: fmt.Errorf("reading: %w", context.DeadlineExceeded), want: evidence.ClassTimeout},
		{name: "a canceled read after the deadline is a timeout", ctxErr: context.DeadlineExceeded, err: errors.New("net/http: request canceled"), want: evidence.ClassTimeout},
		{name: "a dial timeout is a timeout", err: &net.OpError{Op: "dial", Err: &timeoutErr{}}, want: evidence.ClassTimeout},
		{name: "anything else is other", err: errors.New("tls: bad certificate"), want: evidence.ClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, classify(tt.ctxErr, tt.err))
			if tt.ctxErr == nil {
				require.Equal(t, tt.want, classifyText(tt.err.Error()), "text fallback agrees")
			}
		})
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// runFor probes for d and returns the samples.
func runFor(t *testing.T, opts Options, d time.Duration) []evidence.Sample {
	t.Helper()
	p, err := New(opts)
	require.NoError(t, err)
	stop := runProber(t, p)
	time.Sleep(d)
	stop()
	return p.Samples()
}

func TestRunClassifiesFailures(t *testing.T) {
	closedPort := func(t *testing.T) string {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return "http://" + addr
	}
	hanging := func(t *testing.T) string {
		t.Helper()
		srv := newSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}))
		return srv.url()
	}
	resetting := func(t *testing.T) string {
		t.Helper()
		srv := newSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // close with RST
				}
				_ = conn.Close()
			}
		}))
		return srv.url()
	}
	tests := []struct {
		name       string
		endpoint   func(t *testing.T) string
		want       evidence.ErrorClass
		minLatency time.Duration
	}{
		{name: "a closed port is refused", endpoint: closedPort, want: evidence.ClassRefused},
		{name: "a hanging server times out at the probe timeout", endpoint: hanging, want: evidence.ClassTimeout, minLatency: 200 * time.Millisecond},
		{name: "a server that resets connections is reset", endpoint: resetting, want: evidence.ClassReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples := runFor(t, Options{Endpoint: tt.endpoint(t), Rate: 20, Timeout: 200 * time.Millisecond, Templates: oneRoute(), Pools: testPools()}, 500*time.Millisecond)
			require.NotEmpty(t, samples)
			for _, s := range samples {
				require.Equal(t, tt.want, s.Err, "sample %+v", s)
				require.Zero(t, s.Code)
				require.True(t, s.Failed())
				require.Equal(t, "recommend", s.Route)
				require.GreaterOrEqual(t, s.Latency, tt.minLatency)
				require.Less(t, s.Latency, 200*time.Millisecond+300*time.Millisecond)
			}
		})
	}
}

func TestRunSendsTemplatesByWeightWithEscapedValues(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]int{}
	users := map[string]bool{}
	srv := newSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path]++
		if u := r.URL.Query().Get("user"); u != "" {
			users[u] = true
		}
		require.Equal(t, "yes", r.Header.Get("X-Synthetic"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	samples := runFor(t, Options{
		Endpoint: srv.url(), Rate: 400, Timeout: time.Second, Seed: 3,
		Header: http.Header{"X-Synthetic": {"yes"}},
		Templates: []Template{
			{Name: "recommend", Path: "/v1/recommendations?user={user}&k=10", Weight: 3},
			{Name: "search", Path: "/v1/search?q={query}", Weight: 1},
		},
		Pools: Pools{Users: []string{"user one", "user&two"}, Queries: []string{"q"}},
	}, time.Second)
	routes := map[string]int{}
	for _, s := range samples {
		require.Equal(t, 204, s.Code)
		require.False(t, s.Failed())
		routes[s.Route]++
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, routes["recommend"], paths["/v1/recommendations"])
	require.Equal(t, routes["search"], paths["/v1/search"])
	total := len(samples)
	require.InDelta(t, 0.75, float64(routes["recommend"])/float64(total), 0.08, "%v of %d", routes, total)
	require.Equal(t, map[string]bool{"user one": true, "user&two": true}, users)
}

// TestRunIsOpenLoop shows that slow responses do not slow the schedule: half
// the requests take 300 ms, yet sends keep to the rate.
func TestRunIsOpenLoop(t *testing.T) {
	srv := newSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var seq int
		_, _ = fmt.Sscan(r.Header.Get(seqHeader), &seq)
		if seq%2 == 0 {
			time.Sleep(300 * time.Millisecond)
		}
	}))
	const rate = 100
	const d = 1500 * time.Millisecond
	samples := runFor(t, Options{Endpoint: srv.url(), Rate: rate, Timeout: time.Second, Templates: oneRoute(), Pools: testPools(), MaxWorkers: 0}, d)
	want := int(d.Seconds() * rate)
	require.InDelta(t, want, len(samples), float64(want)/10, "sent %d in %s at %d/s", len(samples), d, rate)
	slow := 0
	for _, s := range samples {
		if s.Latency >= 300*time.Millisecond {
			slow++
		}
	}
	require.InDelta(t, len(samples)/2, slow, 3, "half the requests were slow")
	// Each send stays close to its slot in the fixed schedule.
	first := samples[0].At
	worst := time.Duration(0)
	for i, s := range samples {
		lag := s.At.Sub(first.Add(time.Duration(i) * time.Second / rate))
		worst = max(worst, lag.Abs())
	}
	t.Logf("%d samples, %d slow, worst deviation from the schedule %s", len(samples), slow, worst)
	require.Less(t, worst, 100*time.Millisecond)
}

func TestSinceSeesOnlyRecentSamples(t *testing.T) {
	srv := newSwitchServer(t, nil)
	p, err := New(Options{Endpoint: srv.url(), Rate: 100, Templates: oneRoute(), Pools: testPools()})
	require.NoError(t, err)
	stop := runProber(t, p)
	time.Sleep(600 * time.Millisecond)
	mid := time.Now()
	time.Sleep(400 * time.Millisecond)
	stop()

	all := p.Samples()
	since := p.Since(mid)
	require.NotEmpty(t, since)
	require.Less(t, len(since), len(all))
	for _, s := range since {
		require.False(t, s.At.Before(mid))
	}
	require.Equal(t, all[len(all)-len(since):], since, "Since is the tail of Samples")
	require.Error(t, p.Run(t.Context()), "Run runs once")
}

func TestFetchPoolsReadsTheSampleEndpoint(t *testing.T) {
	srv := newSwitchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/sample" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string][]string{"users": {"u-" + r.URL.Query().Get("n")}, "items": {"i"}, "queries": {"q"}})
	}))
	pools, err := FetchPools(t.Context(), nil, srv.url()+"/", 5)
	require.NoError(t, err)
	require.Equal(t, Pools{Users: []string{"u-5"}, Items: []string{"i"}, Queries: []string{"q"}}, pools)

	_, err = FetchPools(t.Context(), nil, srv.url()+"/missing", 5)
	require.ErrorContains(t, err, "404")
}
