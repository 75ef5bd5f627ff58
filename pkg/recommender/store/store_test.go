package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// startRegistry runs an in-process registry and returns its host:port and
// storage root.
func startRegistry(t *testing.T) (string, string) {
	t.Helper()
	root := t.TempDir()
	srv, err := ociregistry.New(ociregistry.Options{Root: root, Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	return srv.Addr(), root
}

// writeArtifact creates a flat artifact directory with the given files.
func writeArtifact(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

func newStore(t *testing.T, cacheDir string) *store.Store {
	t.Helper()
	s, err := store.New(store.Options{CacheDir: cacheDir, Logger: log.Discard()})
	require.NoError(t, err)
	return s
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		got[e.Name()] = string(b)
	}
	return got
}

var files = map[string]string{
	"factors.bin":   "0123456789abcdef",
	"items.json":    `[{"item":"i1"}]`,
	"MANIFEST.sha":  "checksums",
	"weird name!.x": "spaces and bangs",
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRegistry(t)
	ref := addr + "/recommender:v1"
	s := newStore(t, t.TempDir())

	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	desc, err := s.Push(ctx, ref, writeArtifact(t, files), store.PushOptions{
		Version: "v1", Created: created, DataHash: "sha256:data", Config: []byte(`{"version":"v1"}`),
	})
	require.NoError(t, err)
	require.Equal(t, store.ArtifactType, desc.ArtifactType)

	t.Run("resolving the tag returns the pushed digest", func(t *testing.T) {
		d, err := s.Resolve(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, desc.Digest, d)
	})

	t.Run("pulling by tag downloads every file and the metadata", func(t *testing.T) {
		a, err := s.Pull(ctx, ref)
		require.NoError(t, err)
		require.False(t, a.CacheHit)
		require.Equal(t, desc.Digest, a.Digest)
		require.Equal(t, files, readDir(t, a.Dir))
		require.Equal(t, "v1", a.Version)
		require.Equal(t, "sha256:data", a.DataHash)
		require.True(t, created.Equal(a.Created))
		require.JSONEq(t, `{"version":"v1"}`, string(a.Config))
		for _, l := range a.Manifest.Layers {
			require.Contains(t, l.MediaType, store.LayerMediaTypePrefix)
		}
	})

	t.Run("pulling again is a cache hit", func(t *testing.T) {
		a, err := s.Pull(ctx, ref)
		require.NoError(t, err)
		require.True(t, a.CacheHit)
		require.Equal(t, files, readDir(t, a.Dir))
	})

	t.Run("pulling by digest into an empty cache works", func(t *testing.T) {
		s2 := newStore(t, t.TempDir())
		a, err := s2.Pull(ctx, addr+"/recommender@"+desc.Digest.String())
		require.NoError(t, err)
		require.False(t, a.CacheHit)
		require.Equal(t, files, readDir(t, a.Dir))
	})

	t.Run("pulling to a directory writes exactly the artifact", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "model")
		a, err := s.PullTo(ctx, addr+"/recommender@"+desc.Digest.String(), out)
		require.NoError(t, err)
		require.Equal(t, out, a.Dir)
		require.Equal(t, files, readDir(t, out))
		_, err = s.PullTo(ctx, ref, out)
		require.ErrorContains(t, err, "already exists")
	})

	t.Run("pushing identical content again yields the same digest", func(t *testing.T) {
		d2, err := s.Push(ctx, addr+"/recommender:again", writeArtifact(t, files), store.PushOptions{
			Version: "v1", Created: created, DataHash: "sha256:data", Config: []byte(`{"version":"v1"}`),
		})
		require.NoError(t, err)
		require.Equal(t, desc.Digest, d2.Digest)
	})
}

func TestCachedWhileRegistryIsDown(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv, err := ociregistry.New(ociregistry.Options{Root: root, Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	ref := srv.Addr() + "/recommender:prod"
	cache := t.TempDir()
	s := newStore(t, cache)
	desc, err := s.Push(ctx, ref, writeArtifact(t, files), store.PushOptions{Version: "v1"})
	require.NoError(t, err)
	_, err = s.Pull(ctx, ref)
	require.NoError(t, err)
	require.NoError(t, srv.Stop(ctx))

	_, err = s.Pull(ctx, ref)
	require.Error(t, err, "the registry is down")

	a, err := s.Cached(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, desc.Digest, a.Digest)
	require.True(t, a.CacheHit)
	require.Equal(t, files, readDir(t, a.Dir))

	// A digest reference is served from the cache without the registry.
	a, err = s.Pull(ctx, srv.Addr()+"/recommender@"+desc.Digest.String())
	require.NoError(t, err)
	require.True(t, a.CacheHit)

	// A digest resolved earlier is served from the cache without the registry.
	a, err = s.PullDigest(ctx, ref, desc.Digest)
	require.NoError(t, err)
	require.True(t, a.CacheHit)
	_, err = s.PullDigest(ctx, ref, digest.FromString("not cached"))
	require.Error(t, err, "an uncached digest needs the registry")

	_, err = s.Cached(ctx, srv.Addr()+"/recommender:never-pulled")
	require.ErrorIs(t, err, store.ErrNotCached)
}

// blobPath is where the distribution filesystem driver keeps a blob.
func blobPath(root string, d digest.Digest) string {
	return filepath.Join(root, "docker", "registry", "v2", "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

func TestCorruptRegistryBlobIsRefused(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{name: "a flipped byte is refused", corrupt: func(t *testing.T, path string) {
			t.Helper()
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[0] ^= 0xff
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}},
		{name: "a truncated blob is refused", corrupt: func(t *testing.T, path string) {
			t.Helper()
			require.NoError(t, os.Truncate(path, 3))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			addr, root := startRegistry(t)
			ref := addr + "/recommender:v1"
			s := newStore(t, t.TempDir())
			_, err := s.Push(ctx, ref, writeArtifact(t, files), store.PushOptions{Version: "v1"})
			require.NoError(t, err)

			tt.corrupt(t, blobPath(root, digest.FromString(files["factors.bin"])))

			cache := t.TempDir()
			_, err = newStore(t, cache).Pull(ctx, ref)
			require.ErrorIs(t, err, store.ErrCorrupt)
			_, err = newStore(t, cache).Cached(ctx, ref)
			require.ErrorIs(t, err, store.ErrNotCached, "nothing half-pulled is left in the cache")

			_, err = s.PullTo(ctx, ref, filepath.Join(t.TempDir(), "out"))
			require.ErrorIs(t, err, store.ErrCorrupt)
		})
	}
}

func TestDamagedCacheEntryIsRepulled(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{name: "a truncated file is detected", damage: func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Truncate(filepath.Join(dir, "factors.bin"), 4))
		}},
		{name: "a same-size corruption is detected", damage: func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "factors.bin"), []byte("XXXXXXXXXXXXXXXX"), 0o644))
		}},
		{name: "a missing file is detected", damage: func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Remove(filepath.Join(dir, "items.json")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			addr, _ := startRegistry(t)
			ref := addr + "/recommender:v1"
			s := newStore(t, t.TempDir())
			_, err := s.Push(ctx, ref, writeArtifact(t, files), store.PushOptions{Version: "v1"})
			require.NoError(t, err)
			a, err := s.Pull(ctx, ref)
			require.NoError(t, err)

			tt.damage(t, a.Dir)

			_, err = s.Cached(ctx, ref)
			require.ErrorIs(t, err, store.ErrCorrupt)
			require.ErrorIs(t, err, store.ErrNotCached)

			again, err := s.Pull(ctx, ref)
			require.NoError(t, err)
			require.False(t, again.CacheHit, "the damaged entry was pulled again")
			require.Equal(t, files, readDir(t, again.Dir))

			// Damage it again: Pull itself detects it and re-pulls.
			tt.damage(t, again.Dir)
			again, err = s.Pull(ctx, ref)
			require.NoError(t, err)
			require.False(t, again.CacheHit)
			require.Equal(t, files, readDir(t, again.Dir))
		})
	}
}

func TestPushRefusals(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRegistry(t)
	s := newStore(t, "")
	nested := writeArtifact(t, files)
	require.NoError(t, os.Mkdir(filepath.Join(nested, "sub"), 0o755))
	tests := []struct {
		name    string
		ref     string
		dir     string
		wantErr string
	}{
		{name: "a digest reference is refused", ref: addr + "/recommender@" + digest.FromString("x").String(), dir: writeArtifact(t, files), wantErr: "a tag is required"},
		{name: "a reference without a tag is refused", ref: addr + "/recommender", dir: writeArtifact(t, files), wantErr: "a tag or digest is required"},
		{name: "a nested directory is refused", ref: addr + "/recommender:v1", dir: nested, wantErr: "must be flat"},
		{name: "an empty directory is refused", ref: addr + "/recommender:v1", dir: t.TempDir(), wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Push(ctx, tt.ref, tt.dir, store.PushOptions{})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestPullUnknownTagIsNotFound(t *testing.T) {
	addr, _ := startRegistry(t)
	_, err := newStore(t, t.TempDir()).Pull(context.Background(), addr+"/recommender:missing")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestLayerMediaType(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{name: "a plain name is kept", file: "items.bin", want: "application/vnd.firedrill.model.items.bin"},
		{name: "upper case is lowered", file: "MANIFEST.sha256", want: "application/vnd.firedrill.model.manifest.sha256"},
		{name: "unsafe characters become dashes", file: "a b/c", want: "application/vnd.firedrill.model.a-b-c"},
		{name: "leading dots are dropped", file: ".hidden", want: "application/vnd.firedrill.model.hidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, store.LayerMediaType(tt.file))
		})
	}
}

func TestSizeOnlyCacheVerification(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRegistry(t)
	ref := addr + "/recommender:v1"
	cache := t.TempDir()
	s, err := store.New(store.Options{CacheDir: cache, CacheVerify: store.VerifySizes, Logger: log.Discard()})
	require.NoError(t, err)
	_, err = s.Push(ctx, ref, writeArtifact(t, files), store.PushOptions{Version: "v1"})
	require.NoError(t, err)
	a, err := s.Pull(ctx, ref)
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(a.Dir, "factors.bin"), []byte("XXXXXXXXXXXXXXXX"), 0o644))
	_, err = s.Cached(ctx, ref)
	require.NoError(t, err, "a same-size change is left to the loader's own checksums")

	require.NoError(t, os.Truncate(filepath.Join(a.Dir, "factors.bin"), 1))
	_, err = s.Cached(ctx, ref)
	require.ErrorIs(t, err, store.ErrCorrupt, "truncation is still caught")

	_, err = store.New(store.Options{CacheVerify: store.CacheVerify(7)})
	require.ErrorContains(t, err, "unknown cache verification mode")
}

func TestConcurrentPullsShareOneDownload(t *testing.T) {
	ctx := context.Background()
	addr, _ := startRegistry(t)
	ref := addr + "/recommender:v1"
	cache := t.TempDir()
	_, err := newStore(t, "").Push(ctx, ref, writeArtifact(t, files), store.PushOptions{Version: "v1"})
	require.NoError(t, err)

	const n = 4
	results := make(chan store.Artifact, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			// Separate stores stand for separate processes sharing the cache.
			a, err := newStore(t, cache).Pull(ctx, ref)
			results <- a
			errs <- err
		}()
	}
	downloads := 0
	for range n {
		require.NoError(t, <-errs)
		a := <-results
		require.Equal(t, files, readDir(t, a.Dir))
		if !a.CacheHit {
			downloads++
		}
	}
	require.Equal(t, 1, downloads, "one pull downloads, the others find it committed")
}
