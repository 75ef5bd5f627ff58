package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/cli"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// execute runs the recommender command tree with args and returns stdout.
func runRecommender(ctx context.Context, t *testing.T, out io.Writer, args ...string) error {
	t.Helper()
	cmd := cli.NewCommand()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(ctx)
}

// savedTinyModel saves a small valid model and returns its directory.
func savedTinyModel(t *testing.T, version string) string {
	t.Helper()
	const nu, ni, rank = 6, 12, 3
	p := model.Parts{
		Metadata:  model.Metadata{Version: version, CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), DataHash: "sha256:cli"},
		Rank:      rank,
		NeighborK: 2,
		Blend:     model.DefaultBlend(),
		Queries:   []string{"lamp"},
	}
	for u := range nu {
		p.Users = append(p.Users, fmt.Sprintf("u%d", u))
		p.Seen = append(p.Seen, []int32{int32(u)})
		for f := range rank {
			p.UserFactors = append(p.UserFactors, float32(u+f+1)/10)
		}
	}
	for i := range ni {
		p.Items = append(p.Items, model.Item{ID: fmt.Sprintf("i%d", i), Title: fmt.Sprintf("desk lamp %d", i), Category: "lamps"})
		for f := range rank {
			p.ItemFactors = append(p.ItemFactors, float32(i*f%5)/5+0.1)
		}
		p.NeighborItems = append(p.NeighborItems, int32((i+1)%ni), int32((i+2)%ni))
		p.NeighborScores = append(p.NeighborScores, 0.9, 0.5)
		p.Popularity = append(p.Popularity, float32(ni-i))
	}
	m, err := model.New(p)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, m.Save(dir))
	return dir
}

func startTestRegistry(t *testing.T) string {
	t.Helper()
	srv, err := ociregistry.New(ociregistry.Options{Root: t.TempDir(), Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv.Addr()
}

func readArtifactFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

var pushedDigestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

func TestPushThenPullByTagAndDigest(t *testing.T) {
	ctx := context.Background()
	addr := startTestRegistry(t)
	dir := savedTinyModel(t, "v7")
	ref := addr + "/recommender:prod"

	var out bytes.Buffer
	require.NoError(t, runRecommender(ctx, t, &out, "push", "--model", dir, "--ref", ref))
	require.Contains(t, out.String(), "pushed "+ref+" version v7 digest sha256:")
	dgst := pushedDigestRE.FindString(out.String())

	for _, pullRef := range []string{ref, addr + "/recommender@" + dgst} {
		outDir := filepath.Join(t.TempDir(), "pulled")
		out.Reset()
		require.NoError(t, runRecommender(ctx, t, &out, "pull", "--ref", pullRef, "--out", outDir))
		require.Contains(t, out.String(), "version v7 digest "+dgst)
		require.Equal(t, readArtifactFiles(t, dir), readArtifactFiles(t, outDir))
		_, err := model.Load(outDir)
		require.NoError(t, err)
	}
}

func TestPushAndPullPrintTheirResultForMachines(t *testing.T) {
	ctx := context.Background()
	addr := startTestRegistry(t)
	ref := addr + "/recommender:prod"
	type result struct {
		Ref     string `json:"ref"`
		Version string `json:"version"`
		Digest  string `json:"digest"`
		Dir     string `json:"dir"`
	}

	var out bytes.Buffer
	require.NoError(t, runRecommender(ctx, t, &out, "push", "--model", savedTinyModel(t, "v3"), "--ref", ref, "-o", "json"))
	var pushed result
	require.NoError(t, json.Unmarshal(out.Bytes(), &pushed), out.String())
	require.Equal(t, ref, pushed.Ref)
	require.Equal(t, "v3", pushed.Version)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, pushed.Digest)
	require.Empty(t, pushed.Dir)

	dir := filepath.Join(t.TempDir(), "pulled")
	out.Reset()
	require.NoError(t, runRecommender(ctx, t, &out, "pull", "--ref", addr+"/recommender@"+pushed.Digest, "--out", dir, "-o", "yaml"))
	var pulled result
	require.NoError(t, yaml.UnmarshalStrict(out.Bytes(), &pulled), out.String())
	require.Equal(t, result{Ref: addr + "/recommender@" + pushed.Digest, Version: "v3", Digest: pushed.Digest, Dir: dir}, pulled)
}

func TestPushRefusesACorruptModel(t *testing.T) {
	addr := startTestRegistry(t)
	dir := savedTinyModel(t, "v1")
	require.NoError(t, os.WriteFile(filepath.Join(dir, model.MetadataFile), []byte(`{"version":"tampered"}`), 0o644))
	err := runRecommender(context.Background(), t, io.Discard, "push", "--model", dir, "--ref", addr+"/recommender:prod")
	require.ErrorIs(t, err, model.ErrCorrupt)
}

func TestFlagValidation(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "push needs a model", args: []string{"push", "--ref", "127.0.0.1:1/r:t"}, wantErr: "--model is required"},
		{name: "push needs a ref", args: []string{"push", "--model", "x"}, wantErr: "--ref is required"},
		{name: "push refuses a digest ref", args: []string{"push", "--model", "x", "--ref", "127.0.0.1:1/r@sha256:" + strings.Repeat("a", 64)}, wantErr: "must carry a tag"},
		{name: "pull needs an output directory", args: []string{"pull", "--ref", "127.0.0.1:1/r:t"}, wantErr: "--out is required"},
		{name: "pull refuses a ref without a tag", args: []string{"pull", "--ref", "127.0.0.1:1/r", "--out", "x"}, wantErr: "a tag or digest is required"},
		{name: "serve refuses both a ref and a directory", args: []string{"serve", "--model-ref", "127.0.0.1:1/r:t", "--model-dir", "x"}, wantErr: "mutually exclusive"},
		{name: "serve refuses a non-loopback address", args: []string{"serve", "--addr", "0.0.0.0:8080"}, wantErr: "must be a loopback address"},
		{name: "modelstore needs a root", args: []string{"modelstore"}, wantErr: "--root is required"},
		{name: "modelstore refuses a non-loopback address", args: []string{"modelstore", "--root", "x", "--addr", "10.0.0.1:5000"}, wantErr: "must be a loopback address"},
		{name: "a bad log level is refused", args: []string{"--log-level", "loud", "pull"}, wantErr: "unknown log level"},
		{name: "push refuses an unknown output format", args: []string{"push", "--model", "x", "--ref", "127.0.0.1:1/r:t", "-o", "toml"}, wantErr: `--output must be text, json or yaml, got "toml"`},
		{name: "pull refuses an unknown output format", args: []string{"pull", "--ref", "127.0.0.1:1/r:t", "--out", "x", "-o", "toml"}, wantErr: `--output must be text, json or yaml, got "toml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runRecommender(context.Background(), t, io.Discard, tt.args...)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// runRecommenderInBackground runs a long-lived command until cancel and returns its
// output, the address it printed and a channel with its error.
func runRecommenderInBackground(t *testing.T, args ...string) (context.CancelFunc, string, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- runRecommender(ctx, t, out, args...) }()
	var addr string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 20*time.Second, 10*time.Millisecond, "the command prints its address")
	t.Cleanup(cancel)
	return cancel, addr, done
}

func TestModelstorePushServeEndToEnd(t *testing.T) {
	cancelStore, storeAddr, storeDone := runRecommenderInBackground(t, "modelstore", "--root", t.TempDir(), "--addr", "127.0.0.1:0")
	ref := storeAddr + "/recommender:prod"
	require.NoError(t, runRecommender(context.Background(), t, io.Discard, "push", "--model", savedTinyModel(t, "v1"), "--ref", ref))

	cancelServe, addr, serveDone := runRecommenderInBackground(t, "serve", "--addr", "127.0.0.1:0", "--model-ref", ref,
		"--cache-dir", t.TempDir(), "--require-model", "--poll-interval", "0")
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 10*time.Millisecond)

	resp, err := http.Get("http://" + addr + "/v1/recommendations?user=u1&k=3")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "v1", resp.Header.Get("X-Model-Version"))
	require.Contains(t, string(body), `"personalized":true`)

	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), `recommender_model_info{digest="sha256:`)
	require.Contains(t, string(body), "go_goroutines", "the CLI registers the Go collector")

	cancelServe()
	require.NoError(t, <-serveDone, "SIGTERM-style cancellation drains and exits cleanly")
	cancelStore()
	require.NoError(t, <-storeDone)
}
