package serve_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/serve"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

func TestServeFromDirectory(t *testing.T) {
	s := startServer(t, serve.Options{ModelDir: savedModel(t, "v1")})
	require.True(t, s.Ready())

	var info serve.ModelInfo
	resp := get(t, s, "/v1/model", &info)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "v1", info.Version)
	require.Equal(t, serve.SourceDir, info.Source)
	require.False(t, info.Degraded)
	require.False(t, info.LoadedAt.IsZero())

	tests := []struct {
		name         string
		path         string
		want         int
		personalized bool
		atMost       bool // search relevance is the model's business; the plumbing is tested here
	}{
		{name: "a known user gets personalised recommendations", path: "/v1/recommendations?user=u1&k=5", want: 5, personalized: true},
		{name: "an unknown user gets popular items", path: "/v1/recommendations?user=stranger&k=3", want: 3},
		{name: "an unknown user with a category gets that category", path: "/v1/recommendations?user=stranger&k=3&category=hats", want: 3},
		{name: "search finds matching titles", path: "/v1/search?q=red+shoe&k=4", want: 4, atMost: true},
		{name: "search for a known user is personalised", path: "/v1/search?q=hat&user=u2&k=2", want: 2, personalized: true, atMost: true},
		{name: "similar returns the item's neighbours", path: "/v1/similar?item=i3&k=2", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body serve.Response
			resp := get(t, s, tt.path, &body)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "v1", resp.Header.Get("X-Model-Version"))
			require.Equal(t, "v1", body.Version)
			require.False(t, body.Degraded)
			require.Equal(t, tt.personalized, body.Personalized)
			if tt.atMost {
				require.NotEmpty(t, body.Results)
				require.LessOrEqual(t, len(body.Results), tt.want)
			} else {
				require.Len(t, body.Results, tt.want)
			}
			if strings.Contains(tt.path, "category=hats") {
				for _, r := range body.Results {
					require.Equal(t, "hats", r.Category)
				}
			}
		})
	}

	t.Run("sample returns users, items and queries", func(t *testing.T) {
		var body serve.SampleResponse
		resp := get(t, s, "/v1/sample?n=5", &body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, body.Users, 5)
		require.Len(t, body.Items, 5)
		require.NotEmpty(t, body.Queries)
	})
}

func TestAPIErrors(t *testing.T) {
	s := startServer(t, serve.Options{ModelDir: savedModel(t, "v1"), MaxK: 50})
	tests := []struct {
		name    string
		method  string
		path    string
		code    int
		wantErr string
	}{
		{name: "recommendations without a user are refused", path: "/v1/recommendations?k=5", code: 400, wantErr: "missing required parameter user"},
		{name: "recommendations without k are refused", path: "/v1/recommendations?user=u1", code: 400, wantErr: "missing required parameter k"},
		{name: "a non-numeric k is refused", path: "/v1/recommendations?user=u1&k=ten", code: 400, wantErr: "k must be a positive integer"},
		{name: "a zero k is refused", path: "/v1/recommendations?user=u1&k=0", code: 400, wantErr: "k must be a positive integer"},
		{name: "a negative k is refused", path: "/v1/recommendations?user=u1&k=-3", code: 400, wantErr: "k must be a positive integer"},
		{name: "a k above the limit is refused", path: "/v1/recommendations?user=u1&k=51", code: 400, wantErr: "k must be at most 50"},
		{name: "search without q is refused", path: "/v1/search?k=5", code: 400, wantErr: "missing required parameter q"},
		{name: "search with a blank q is refused", path: "/v1/search?q=+&k=5", code: 400, wantErr: "missing required parameter q"},
		{name: "search with a bad k is refused", path: "/v1/search?q=hat&k=x", code: 400, wantErr: "k must be a positive integer"},
		{name: "similar without an item is refused", path: "/v1/similar?k=5", code: 400, wantErr: "missing required parameter item"},
		{name: "similar with a k above the limit is refused", path: "/v1/similar?item=i1&k=500", code: 400, wantErr: "k must be at most 50"},
		{name: "similar for an unknown item is not found", path: "/v1/similar?item=nope&k=5", code: 404, wantErr: `unknown item "nope"`},
		{name: "sample with a bad n is refused", path: "/v1/sample?n=0", code: 400, wantErr: "n must be a positive integer"},
		{name: "POST is not allowed", method: http.MethodPost, path: "/v1/recommendations?user=u1&k=5", code: 405, wantErr: "method POST not allowed"},
		{name: "DELETE on the model is not allowed", method: http.MethodDelete, path: "/v1/model", code: 405, wantErr: "method DELETE not allowed"},
		{name: "an unknown path is not found", path: "/v2/nothing", code: 404, wantErr: "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var body serve.ErrorResponse
			resp := do(t, s, method, tt.path, &body)
			require.Equal(t, tt.code, resp.StatusCode)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Equal(t, "v1", resp.Header.Get("X-Model-Version"))
			require.Contains(t, body.Error, tt.wantErr)
			if tt.code == http.StatusMethodNotAllowed {
				require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestStartFromStoreThenFromCacheWhileStoreIsDown(t *testing.T) {
	reg := startRegistry(t)
	cache := t.TempDir()
	st := newStore(t, cache)
	dgst := push(t, st, reg.ref("prod"), "v1")

	first := startServer(t, serve.Options{ModelRef: reg.ref("prod"), Store: st, CacheDir: cache})
	info := first.Info()
	require.Equal(t, serve.SourceStore, info.Source)
	require.Equal(t, dgst, info.Digest)
	require.Equal(t, "v1", info.Version)
	require.False(t, info.CacheHit)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(cache, serve.SnapshotFile))
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "the popularity snapshot is persisted")

	reg.stop(t)

	second := startServer(t, serve.Options{ModelRef: reg.ref("prod"), Store: newStore(t, cache), CacheDir: cache, RequireModel: true})
	info = second.Info()
	require.Equal(t, serve.SourceCache, info.Source)
	require.Equal(t, dgst, info.Digest)
	require.False(t, info.Degraded)
	require.True(t, second.Ready(), "a cached model satisfies RequireModel")

	var body serve.Response
	resp := get(t, second, "/v1/recommendations?user=u1&k=3", &body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, body.Degraded)
	require.Len(t, body.Results, 3)
}

func TestCorruptCachedModelIsRepulled(t *testing.T) {
	reg := startRegistry(t)
	cache := t.TempDir()
	st := newStore(t, cache)
	push(t, st, reg.ref("prod"), "v1")
	a, err := st.Pull(context.Background(), reg.ref("prod"))
	require.NoError(t, err)
	require.NoError(t, os.Truncate(filepath.Join(a.Dir, model.MetadataFile), 1))

	s := startServer(t, serve.Options{ModelRef: reg.ref("prod"), Store: newStore(t, cache), CacheDir: cache})
	info := s.Info()
	require.Equal(t, serve.SourceStore, info.Source)
	require.False(t, info.CacheHit, "the truncated entry was pulled again")
	require.Equal(t, "v1", info.Version)
}

func TestDegradedFallback(t *testing.T) {
	snapshot := `{"version":"v0","results":[{"item":"p1","title":"red shoe","category":"shoes","score":9},{"item":"p2","title":"blue hat","category":"hats","score":5},{"item":"p3","title":"green hat","category":"hats","score":1}]}`
	tests := []struct {
		name        string
		setup       func(t *testing.T, cache string) string // returns the --fallback path
		wantVersion string
		wantItems   []string
	}{
		{
			name:        "with no snapshot anywhere the fallback is empty",
			setup:       func(t *testing.T, cache string) string { t.Helper(); return "" },
			wantVersion: serve.NoVersion,
			wantItems:   []string{},
		},
		{
			name: "the snapshot persisted in the cache directory is served",
			setup: func(t *testing.T, cache string) string {
				t.Helper()
				writeFile(t, filepath.Join(cache, serve.SnapshotFile), snapshot)
				return ""
			},
			wantVersion: "v0",
			wantItems:   []string{"p1", "p2"},
		},
		{
			name: "the fallback file is served when the cache has no snapshot",
			setup: func(t *testing.T, cache string) string {
				t.Helper()
				p := filepath.Join(t.TempDir(), "fallback.json")
				writeFile(t, p, `[{"item":"f1","score":2},{"item":"f2","score":1}]`)
				return p
			},
			wantVersion: serve.NoVersion,
			wantItems:   []string{"f1", "f2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			fallbackPath := tt.setup(t, cache)
			reg := startRegistry(t)
			ref := reg.ref("prod")
			reg.stop(t) // no store, and nothing cached
			reg2 := prometheus.NewRegistry()
			s := startServer(t, serve.Options{
				ModelRef: ref, Store: newStore(t, cache), CacheDir: cache, FallbackPath: fallbackPath, Registerer: reg2,
			})
			require.True(t, s.Ready(), "without RequireModel a degraded server is ready")

			var body serve.Response
			resp := get(t, s, "/v1/recommendations?user=u1&k=2", &body)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.True(t, body.Degraded)
			require.Equal(t, tt.wantVersion, resp.Header.Get("X-Model-Version"))
			items := []string{}
			for _, r := range body.Results {
				items = append(items, r.Item)
			}
			require.Equal(t, tt.wantItems, items)

			var info serve.ModelInfo
			get(t, s, "/v1/model", &info)
			require.True(t, info.Degraded)
			require.Equal(t, serve.SourceFallback, info.Source)

			for _, path := range []string{"/v1/search?q=hat&k=2", "/v1/similar?item=p2&k=2", "/v1/sample?n=2"} {
				resp := get(t, s, path, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, path)
			}
			require.NoError(t, testutil.GatherAndCompare(reg2, strings.NewReader(`
# HELP recommender_model_degraded 1 while the popularity fallback is served instead of a model.
# TYPE recommender_model_degraded gauge
recommender_model_degraded 1
`), "recommender_model_degraded"))
		})
	}
}

func TestDegradedSearchAndSimilarUseTheSnapshot(t *testing.T) {
	cache := t.TempDir()
	writeFile(t, filepath.Join(cache, serve.SnapshotFile), `{"version":"v0","results":[
		{"item":"p1","title":"red shoe","category":"shoes","score":9},
		{"item":"p2","title":"blue hat","category":"hats","score":5},
		{"item":"p3","title":"green hat","category":"hats","score":1}]}`)
	s := startServer(t, serve.Options{CacheDir: cache})
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "search ranks matching titles first", path: "/v1/search?q=hat&k=5", want: []string{"p2", "p3"}},
		{name: "search without a match returns popular items", path: "/v1/search?q=sofa&k=2", want: []string{"p1", "p2"}},
		{name: "similar prefers the item's category", path: "/v1/similar?item=p2&k=2", want: []string{"p3", "p1"}},
		{name: "similar for an item outside the snapshot returns popular items", path: "/v1/similar?item=zz&k=1", want: []string{"p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body serve.Response
			resp := get(t, s, tt.path, &body)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.True(t, body.Degraded)
			var got []string
			for _, r := range body.Results {
				got = append(got, r.Item)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name         string
		withModel    bool
		requireModel bool
		wantReady    bool
	}{
		{name: "a loaded model is ready", withModel: true, wantReady: true},
		{name: "a loaded model is ready when a model is required", withModel: true, requireModel: true, wantReady: true},
		{name: "the degraded fallback is ready when no model is required", wantReady: true},
		{name: "the degraded fallback is not ready when a model is required", requireModel: true, wantReady: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			if tt.withModel {
				dir = savedModel(t, "v1")
			}
			s := startServer(t, serve.Options{ModelDir: dir, RequireModel: tt.requireModel})
			var status serve.Status
			resp := get(t, s, "/readyz", &status)
			want := http.StatusServiceUnavailable
			if tt.wantReady {
				want = http.StatusOK
			}
			require.Equal(t, want, resp.StatusCode)
			require.Equal(t, tt.wantReady, s.Ready())
			require.Equal(t, !tt.withModel, status.Degraded)

			resp = get(t, s, "/healthz", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "a live server is healthy whether or not it is ready")
		})
	}
}

func TestHotReloadUnderLoad(t *testing.T) {
	reg := startRegistry(t)
	cache := t.TempDir()
	st := newStore(t, cache)
	push(t, st, reg.ref("prod"), "v1")
	clk := clocktesting.NewFakeClock(time.Now())
	s := startServer(t, serve.Options{
		ModelRef: reg.ref("prod"), Store: st, CacheDir: cache, PollInterval: time.Minute, Clock: clk,
	})
	require.Equal(t, "v1", s.Info().Version)

	var (
		failures, total atomic.Int64
		sawV2           atomic.Bool
		wg              sync.WaitGroup
	)
	stop := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + s.Addr() + "/v1/recommendations?user=u1&k=5")
				total.Add(1)
				if err != nil {
					failures.Add(1)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				if resp.Header.Get("X-Model-Version") == "v2" {
					sawV2.Store(true)
				}
				resp.Body.Close()
			}
		})
	}

	time.Sleep(100 * time.Millisecond)
	dgst2 := push(t, st, reg.ref("prod"), "v2")
	require.Eventually(t, clk.HasWaiters, 5*time.Second, 5*time.Millisecond, "the poller waits on its ticker")
	clk.Step(time.Minute)
	require.Eventually(t, func() bool { return s.Info().Version == "v2" }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, sawV2.Load, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	require.Zero(t, failures.Load(), "no request failed during the swap (of %d)", total.Load())
	require.Greater(t, total.Load(), int64(20))
	require.Equal(t, dgst2, s.Info().Digest)
	require.Equal(t, serve.SourceStore, s.Info().Source)
}

func TestReloadFailureKeepsTheLastGoodModel(t *testing.T) {
	reg := startRegistry(t)
	cache := t.TempDir()
	st := newStore(t, cache)
	dgst1 := push(t, st, reg.ref("prod"), "v1")
	metrics := prometheus.NewRegistry()
	s := startServer(t, serve.Options{ModelRef: reg.ref("prod"), Store: st, CacheDir: cache, Registerer: metrics})
	require.Equal(t, "v1", s.Info().Version)

	// v2's metadata blob is corrupted in the registry's storage.
	dir := savedModel(t, "v2")
	b, err := os.ReadFile(filepath.Join(dir, model.MetadataFile))
	require.NoError(t, err)
	_, err = st.Push(context.Background(), reg.ref("prod"), dir, store.PushOptions{Version: "v2"})
	require.NoError(t, err)
	d := digest.FromBytes(b)
	blob := filepath.Join(reg.root, "docker/registry/v2/blobs/sha256", d.Encoded()[:2], d.Encoded(), "data")
	corrupt := []byte(strings.Replace(string(b), "v2", "vX", 1))
	require.NoError(t, os.WriteFile(blob, corrupt, 0o644))

	err = s.Reload(context.Background())
	require.ErrorContains(t, err, "artifact is corrupt")
	require.Equal(t, "v1", s.Info().Version)
	require.Equal(t, dgst1, s.Info().Digest)

	reg.stop(t)
	require.Error(t, s.Reload(context.Background()))
	require.Equal(t, "v1", s.Info().Version, "an unreachable store keeps the model too")

	require.NoError(t, testutil.GatherAndCompare(metrics, strings.NewReader(`
# HELP recommender_model_reload_failures_total Failed attempts to obtain a new model, by stage (resolve, pull, load).
# TYPE recommender_model_reload_failures_total counter
recommender_model_reload_failures_total{stage="load"} 0
recommender_model_reload_failures_total{stage="pull"} 1
recommender_model_reload_failures_total{stage="resolve"} 1
# HELP recommender_model_info The model being served: 1 for the current version, digest and source.
# TYPE recommender_model_info gauge
recommender_model_info{digest="`+dgst1+`",source="store",version="v1"} 1
# HELP recommender_model_degraded 1 while the popularity fallback is served instead of a model.
# TYPE recommender_model_degraded gauge
recommender_model_degraded 0
# HELP recommender_server_ready 1 while /readyz reports ready.
# TYPE recommender_server_ready gauge
recommender_server_ready 1
`), "recommender_model_reload_failures_total", "recommender_model_info", "recommender_model_degraded", "recommender_server_ready"))
}

// blockingModel holds Recommend until release is closed.
type blockingModel struct {
	serve.Model
	entered chan struct{}
	release chan struct{}
}

func (m *blockingModel) Recommend(user string, k int) []model.Result {
	close(m.entered)
	<-m.release
	return m.Model.Recommend(user, k)
}

func TestStopDrainsInFlightRequests(t *testing.T) {
	bm := &blockingModel{entered: make(chan struct{}), release: make(chan struct{})}
	s := startServer(t, serve.Options{
		ModelDir: savedModel(t, "v1"),
		Load: func(dir string) (serve.Model, error) {
			m, err := model.Load(dir)
			if err != nil {
				return nil, err
			}
			bm.Model = m
			return bm, nil
		},
	})
	addr := s.Addr()
	type result struct {
		code int
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/v1/recommendations?user=u1&k=3")
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	<-bm.entered

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	require.Eventually(t, func() bool { return !s.Ready() }, 5*time.Second, 5*time.Millisecond, "draining is not ready")
	select {
	case <-stopped:
		t.Fatal("Stop returned while a request was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(bm.release)
	require.NoError(t, <-stopped)
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.code, "the in-flight request completed")

	_, err := http.Get("http://" + addr + "/healthz")
	require.Error(t, err, "a stopped server accepts no connections")
}

func TestStopGivesUpWhenTheDrainTimesOut(t *testing.T) {
	bm := &blockingModel{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(bm.release)
	s := startServer(t, serve.Options{
		ModelDir: savedModel(t, "v1"),
		Load: func(dir string) (serve.Model, error) {
			m, err := model.Load(dir)
			bm.Model = m
			return bm, err
		},
	})
	go func() {
		if resp, err := http.Get("http://" + s.Addr() + "/v1/recommendations?user=u1&k=3"); err == nil {
			resp.Body.Close()
		}
	}()
	<-bm.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Stop(ctx), context.DeadlineExceeded)
}

func TestHTTPMetrics(t *testing.T) {
	metrics := prometheus.NewRegistry()
	s := startServer(t, serve.Options{ModelDir: savedModel(t, "v1"), Registerer: metrics})
	get(t, s, "/v1/recommendations?user=u1&k=3", nil)
	get(t, s, "/v1/recommendations?user=u1&k=3", nil)
	get(t, s, "/v1/recommendations?user=u1", nil)
	get(t, s, "/v1/similar?item=nope&k=3", nil)
	require.NoError(t, testutil.GatherAndCompare(metrics, strings.NewReader(`
# HELP recommender_http_requests_total HTTP requests served, by route and status code.
# TYPE recommender_http_requests_total counter
recommender_http_requests_total{code="200",route="recommendations"} 2
recommender_http_requests_total{code="400",route="recommendations"} 1
recommender_http_requests_total{code="404",route="similar"} 1
# HELP recommender_model_info The model being served: 1 for the current version, digest and source.
# TYPE recommender_model_info gauge
recommender_model_info{digest="",source="dir",version="v1"} 1
`), "recommender_http_requests_total", "recommender_model_info"))
	require.Positive(t, testutil.CollectAndCount(metrics, "recommender_http_request_duration_seconds"))

	resp := get(t, s, "/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestResponseCacheBelongsToTheModelVersion(t *testing.T) {
	reg := startRegistry(t)
	cache := t.TempDir()
	st := newStore(t, cache)
	push(t, st, reg.ref("prod"), "v1")
	metrics := prometheus.NewRegistry()
	s := startServer(t, serve.Options{ModelRef: reg.ref("prod"), Store: st, CacheDir: cache, Registerer: metrics})

	var first, second serve.Response
	get(t, s, "/v1/recommendations?user=u1&k=4", &first)
	get(t, s, "/v1/recommendations?user=u1&k=4", &second)
	require.Equal(t, first, second, "a cached answer is the computed answer")
	get(t, s, "/v1/recommendations?user=stranger&k=4", nil) // not personalised: not cached

	push(t, st, reg.ref("prod"), "v2")
	require.NoError(t, s.Reload(context.Background()))
	var third serve.Response
	resp := get(t, s, "/v1/recommendations?user=u1&k=4", &third)
	require.Equal(t, "v2", third.Version, "a swap drops the previous version's answers")
	require.Equal(t, "v2", resp.Header.Get("X-Model-Version"))

	require.NoError(t, testutil.GatherAndCompare(metrics, strings.NewReader(`
# HELP recommender_http_response_cache_lookups_total Response cache lookups, by route and result (hit, miss).
# TYPE recommender_http_response_cache_lookups_total counter
recommender_http_response_cache_lookups_total{result="hit",route="recommendations"} 1
recommender_http_response_cache_lookups_total{result="miss",route="recommendations"} 2
`), "recommender_http_response_cache_lookups_total"))
}

// countingModel records how many Recommend calls run at once.
type countingModel struct {
	serve.Model
	now, peak atomic.Int32
}

func (m *countingModel) Recommend(user string, k int) []model.Result {
	n := m.now.Add(1)
	for {
		p := m.peak.Load()
		if n <= p || m.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	m.now.Add(-1)
	return m.Model.Recommend(user, k)
}

func TestScoringConcurrencyIsBounded(t *testing.T) {
	cm := &countingModel{}
	s := startServer(t, serve.Options{
		ModelDir:             savedModel(t, "v1"),
		MaxConcurrentScoring: 2,
		Load: func(dir string) (serve.Model, error) {
			m, err := model.Load(dir)
			cm.Model = m
			return cm, err
		},
	})
	var wg sync.WaitGroup
	for u := range 8 {
		wg.Go(func() {
			resp, err := http.Get(fmt.Sprintf("http://%s/v1/recommendations?user=u%d&k=2", s.Addr(), u))
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(2), cm.peak.Load(), "at most two requests score at once, and two did")
}
