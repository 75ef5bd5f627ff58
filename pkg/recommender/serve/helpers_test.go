package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/serve"
	"github.com/firedrill/firedrill/pkg/recommender/store"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// tinyModel builds a small, fully valid model: 10 users, 20 items in two
// categories, rank 4.
func tinyModel(tb testing.TB, version string) *model.Model {
	tb.Helper()
	const nu, ni, rank, nk = 10, 20, 4, 3
	p := model.Parts{
		Metadata:  model.Metadata{Version: version, CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), DataHash: "sha256:tiny"},
		Rank:      rank,
		NeighborK: nk,
		Queries:   []string{"red shoe", "blue hat"},
		Blend:     model.DefaultBlend(),
	}
	for u := range nu {
		p.Users = append(p.Users, fmt.Sprintf("u%d", u))
		p.Seen = append(p.Seen, []int32{int32(u % ni)})
		for f := range rank {
			p.UserFactors = append(p.UserFactors, float32((u+f)%5)/5+0.1)
		}
	}
	for i := range ni {
		cat, title := "shoes", fmt.Sprintf("red shoe %d", i)
		if i%2 == 1 {
			cat, title = "hats", fmt.Sprintf("blue hat %d", i)
		}
		p.Items = append(p.Items, model.Item{ID: fmt.Sprintf("i%d", i), Title: title, Category: cat})
		for f := range rank {
			p.ItemFactors = append(p.ItemFactors, float32((i*f)%7)/7+0.1)
		}
		for j := 1; j <= nk; j++ {
			p.NeighborItems = append(p.NeighborItems, int32((i+j)%ni))
			p.NeighborScores = append(p.NeighborScores, 1/float32(j))
		}
		p.Popularity = append(p.Popularity, float32(ni-i))
	}
	m, err := model.New(p)
	require.NoError(tb, err)
	return m
}

// savedModel saves tinyModel(version) to a new directory.
func savedModel(tb testing.TB, version string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "model")
	require.NoError(tb, tinyModel(tb, version).Save(dir))
	return dir
}

// registry runs an in-process registry; stop stops it early.
type registry struct {
	srv  *ociregistry.Server
	root string
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	root := t.TempDir()
	srv, err := ociregistry.New(ociregistry.Options{Root: root, Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return &registry{srv: srv, root: root}
}

func (r *registry) ref(tag string) string { return r.srv.Addr() + "/recommender:" + tag }

func (r *registry) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.srv.Stop(context.Background()))
}

func newStore(t *testing.T, cacheDir string) *store.Store {
	t.Helper()
	s, err := store.New(store.Options{CacheDir: cacheDir, Logger: log.Discard()})
	require.NoError(t, err)
	return s
}

// push saves a tiny model of the given version and pushes it to ref.
func push(t *testing.T, s *store.Store, ref, version string) string {
	t.Helper()
	desc, err := s.Push(context.Background(), ref, savedModel(t, version), store.PushOptions{Version: version})
	require.NoError(t, err)
	return desc.Digest.String()
}

// startServer starts a server on a free loopback port, waits for the first
// load attempt and stops it at cleanup.
func startServer(tb testing.TB, opts serve.Options) *serve.Server {
	tb.Helper()
	opts.Addr = "127.0.0.1:0"
	if opts.Logger == nil {
		opts.Logger = log.Discard()
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s, err := serve.New(opts)
	require.NoError(tb, err)
	require.NoError(tb, s.Start(context.Background()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	select {
	case <-s.Loaded():
	case <-time.After(30 * time.Second):
		tb.Fatal("the first load attempt did not finish")
	}
	return s
}

// get requests path and decodes the JSON body into out when out is not nil.
func get(tb testing.TB, s *serve.Server, path string, out any) *http.Response {
	tb.Helper()
	return do(tb, s, http.MethodGet, path, out)
}

func do(tb testing.TB, s *serve.Server, method, path string, out any) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr()+path, nil)
	require.NoError(tb, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	if out != nil {
		require.NoError(tb, json.Unmarshal(body, out), "body: %s", body)
	}
	return resp
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}
