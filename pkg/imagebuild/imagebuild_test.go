package imagebuild_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/imagebuild"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
	// created is a commit time, as make image passes it.
	created = time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC)
)

// fakeBinary writes body as a stand-in drill binary and returns its path.
func fakeBinary(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drill")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	return path
}

func options(binaries ...imagebuild.Binary) imagebuild.Options {
	return imagebuild.Options{
		Binaries: binaries,
		CACerts:  "testdata/ca-certificates.crt",
		Version:  "v0.3.0",
		Revision: "4d01b1f0c0ffee",
		Created:  created,
	}
}

func digest(t *testing.T, a imagebuild.Artifact) v1.Hash {
	t.Helper()
	d, err := a.Digest()
	require.NoError(t, err)
	return d
}

func TestOptionsValidation(t *testing.T) {
	bin := fakeBinary(t, "drill")
	tests := []struct {
		name    string
		edit    func(*imagebuild.Options)
		wantErr []string
	}{
		{name: "a binary is required", edit: func(o *imagebuild.Options) { o.Binaries = nil }, wantErr: []string{"at least one binary is required"}},
		{name: "a binary needs a path", edit: func(o *imagebuild.Options) { o.Binaries[0].Path = "" }, wantErr: []string{"binary for linux/amd64: a path is required"}},
		{name: "only linux platforms are accepted", edit: func(o *imagebuild.Options) { o.Binaries[0].Platform.OS = "darwin" }, wantErr: []string{`platform "darwin/amd64" is not linux/<arch>`}},
		{name: "a platform may appear once", edit: func(o *imagebuild.Options) { o.Binaries = append(o.Binaries, o.Binaries[0]) }, wantErr: []string{"platform linux/amd64 given twice"}},
		{name: "a CA bundle is required", edit: func(o *imagebuild.Options) { o.CACerts = "" }, wantErr: []string{"a CA bundle is required"}},
		{name: "a missing CA bundle says how to install one", edit: func(o *imagebuild.Options) { o.CACerts = "testdata/none.crt" }, wantErr: []string{"apt-get install ca-certificates"}},
		{name: "a missing binary is named", edit: func(o *imagebuild.Options) { o.Binaries[0].Path = "testdata/none" }, wantErr: []string{"reading the drill binary", "testdata/none"}},
		{
			name:    "every missing label is reported at once",
			edit:    func(o *imagebuild.Options) { o.Version, o.Revision = "", "" },
			wantErr: []string{"a version is required", "a revision is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options(imagebuild.Binary{Platform: amd64, Path: bin})
			tt.edit(&opts)
			_, err := imagebuild.Build(opts)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestBuildMakesTheDocumentedImage(t *testing.T) {
	opts := options(imagebuild.Binary{Platform: amd64, Path: fakeBinary(t, "#!drill")})
	a, err := imagebuild.Build(opts)
	require.NoError(t, err)
	require.Nil(t, a.Index, "one platform makes an image, not an index")
	require.Len(t, a.Images, 1)
	require.NoError(t, imagebuild.Verify(a, opts))

	mt, err := a.Images[0].MediaType()
	require.NoError(t, err)
	require.Equal(t, "application/vnd.oci.image.manifest.v1+json", string(mt))

	c, err := imagebuild.Inspect(a.Images[0])
	require.NoError(t, err)
	cfg := c.Config.Config
	require.Equal(t, "65532:65532", cfg.User)
	require.Equal(t, []string{"/usr/local/bin/drill"}, cfg.Entrypoint)
	require.Equal(t, []string{"serve"}, cfg.Cmd)
	require.Equal(t, "/", cfg.WorkingDir)
	require.Equal(t, "linux", c.Config.OS)
	require.Equal(t, "amd64", c.Config.Architecture)
	require.Equal(t, created, c.Config.Created.Time)
	wantLabels := map[string]string{
		"org.opencontainers.image.title":       "firedrill",
		"org.opencontainers.image.description": "Disaster-recovery drills for AI inference services: drill run and drill serve",
		"org.opencontainers.image.source":      "https://github.com/firedrill/firedrill",
		"org.opencontainers.image.version":     "v0.3.0",
		"org.opencontainers.image.revision":    "4d01b1f0c0ffee",
		"org.opencontainers.image.created":     "2026-12-07T14:30:00Z",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	require.Equal(t, wantLabels, cfg.Labels)
	require.Equal(t, wantLabels, c.Annotations, "the manifest carries the labels as annotations too")

	require.Equal(t, []string{
		"/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt",
		"/home", "/home/nonroot", "/tmp", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/drill",
	}, c.Paths())
	bin := c.Files["/usr/local/bin/drill"]
	require.Equal(t, int64(0o755), bin.Mode)
	require.Equal(t, []int{0, 0}, []int{bin.UID, bin.GID}, "the binary is root's, so the user cannot replace it")
	require.Equal(t, "#!drill", string(bin.Body))
	certs, err := os.ReadFile("testdata/ca-certificates.crt")
	require.NoError(t, err)
	require.Equal(t, string(certs), string(c.Files["/etc/ssl/certs/ca-certificates.crt"].Body))
	require.Contains(t, string(c.Files["/etc/passwd"].Body), "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
	require.Contains(t, string(c.Files["/etc/group"].Body), "nonroot:x:65532:\n")
	require.Equal(t, 65532, c.Files["/home/nonroot"].UID)
	for _, p := range c.Paths() {
		require.Equal(t, created, c.Files[p].ModTime, "%s has the commit's time", p)
	}
	require.Positive(t, c.Compressed)
	require.Greater(t, c.Uncompressed, int64(len(certs)))
}

func TestBuildIsReproducible(t *testing.T) {
	bin := fakeBinary(t, "drill v0.3.0")
	first, err := imagebuild.Build(options(imagebuild.Binary{Platform: amd64, Path: bin}))
	require.NoError(t, err)
	tests := []struct {
		name string
		edit func(*imagebuild.Options)
		same bool
	}{
		{name: "the same inputs give the same digest", edit: func(*imagebuild.Options) {}, same: true},
		{name: "a created time in another zone is the same instant", edit: func(o *imagebuild.Options) { o.Created = created.In(time.FixedZone("CET", 3600)) }, same: true},
		{name: "sub-second precision is dropped", edit: func(o *imagebuild.Options) { o.Created = created.Add(400 * time.Millisecond) }, same: true},
		{name: "another commit time gives another digest", edit: func(o *imagebuild.Options) { o.Created = created.Add(time.Second) }},
		{name: "another binary gives another digest", edit: func(o *imagebuild.Options) { o.Binaries[0].Path = fakeBinary(t, "drill v0.3.1") }},
		{name: "another revision gives another digest", edit: func(o *imagebuild.Options) { o.Revision = "beef" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options(imagebuild.Binary{Platform: amd64, Path: bin})
			tt.edit(&opts)
			again, err := imagebuild.Build(opts)
			require.NoError(t, err)
			if tt.same {
				require.Equal(t, digest(t, first), digest(t, again))
			} else {
				require.NotEqual(t, digest(t, first), digest(t, again))
			}
		})
	}

	t.Run("the base layer is shared by every build", func(t *testing.T) {
		other, err := imagebuild.Build(options(imagebuild.Binary{Platform: amd64, Path: fakeBinary(t, "other")}))
		require.NoError(t, err)
		a, err := first.Images[0].Layers()
		require.NoError(t, err)
		b, err := other.Images[0].Layers()
		require.NoError(t, err)
		require.Len(t, a, 2)
		require.Len(t, b, 2)
		da, err := a[0].Digest()
		require.NoError(t, err)
		db, err := b[0].Digest()
		require.NoError(t, err)
		require.Equal(t, da, db)
	})
}

func TestBuildIndexForSeveralPlatforms(t *testing.T) {
	opts := options(
		imagebuild.Binary{Platform: amd64, Path: fakeBinary(t, "amd64")},
		imagebuild.Binary{Platform: arm64, Path: fakeBinary(t, "arm64")},
	)
	a, err := imagebuild.Build(opts)
	require.NoError(t, err)
	require.NotNil(t, a.Index)
	require.NoError(t, imagebuild.Verify(a, opts))
	m, err := a.Index.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 2)
	require.Equal(t, "linux/amd64", m.Manifests[0].Platform.String())
	require.Equal(t, "linux/arm64", m.Manifests[1].Platform.String())
	require.Equal(t, "v0.3.0", m.Annotations["org.opencontainers.image.version"])
	c, err := imagebuild.Inspect(a.Images[1])
	require.NoError(t, err)
	require.Equal(t, "arm64", c.Config.Architecture)
	require.Equal(t, "arm64", string(c.Files["/usr/local/bin/drill"].Body))

	again, err := imagebuild.Build(opts)
	require.NoError(t, err)
	require.Equal(t, digest(t, a), digest(t, again))
}

func TestVerifyFindsEveryDifference(t *testing.T) {
	bin := fakeBinary(t, "drill")
	opts := options(imagebuild.Binary{Platform: amd64, Path: bin})
	built, err := imagebuild.Build(opts)
	require.NoError(t, err)
	img := built.Images[0]
	stray, err := imagebuild.Build(imagebuild.Options{
		Binaries: []imagebuild.Binary{{Platform: amd64, Path: fakeBinary(t, "other")}},
		CACerts:  "testdata/ca-certificates.crt", Version: "x", Revision: "y",
	})
	require.NoError(t, err)
	strayLayers, err := stray.Images[0].Layers()
	require.NoError(t, err)

	tests := []struct {
		name    string
		image   func(t *testing.T) v1.Image
		opts    func(o *imagebuild.Options)
		wantErr []string
	}{
		{
			name: "a root user and another entrypoint",
			image: func(t *testing.T) v1.Image {
				t.Helper()
				cfg, err := img.ConfigFile()
				require.NoError(t, err)
				c := cfg.Config
				c.User = "0"
				c.Entrypoint = []string{"/bin/sh"}
				out, err := mutate.Config(img, c)
				require.NoError(t, err)
				return out
			},
			wantErr: []string{`user "0", want "65532:65532"`, `entrypoint ["/bin/sh"]`},
		},
		{
			name: "a layer replacing the binary with another, at another time",
			image: func(t *testing.T) v1.Image {
				t.Helper()
				out, err := mutate.AppendLayers(img, strayLayers[1])
				require.NoError(t, err)
				return out
			},
			wantErr: []string{"/usr/local/bin/drill: sha256", "/usr/local/bin/drill: modified 1970-01-01"},
		},
		{
			name:    "another version than the one asked for",
			opts:    func(o *imagebuild.Options) { o.Version = "v9" },
			wantErr: []string{`label org.opencontainers.image.version="v0.3.0", want "v9"`, "manifest annotation org.opencontainers.image.version"},
		},
		{
			name:    "another CA bundle than the one asked for",
			opts:    func(o *imagebuild.Options) { o.CACerts = fakeBinary(t, "not the bundle") },
			wantErr: []string{"/etc/ssl/certs/ca-certificates.crt: sha256"},
		},
		{
			name: "an empty image lacks everything",
			image: func(t *testing.T) v1.Image {
				t.Helper()
				return empty.Image
			},
			wantErr: []string{"missing /etc/passwd", "missing /usr/local/bin/drill", "platform , want linux/amd64"},
		},
		{
			name:    "an image for another platform",
			opts:    func(o *imagebuild.Options) { o.Binaries[0].Platform = arm64 },
			wantErr: []string{"platform linux/amd64, want linux/arm64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := built
			if tt.image != nil {
				a = imagebuild.Artifact{Images: []v1.Image{tt.image(t)}}
			}
			o := options(imagebuild.Binary{Platform: amd64, Path: bin})
			if tt.opts != nil {
				tt.opts(&o)
			}
			err := imagebuild.Verify(a, o)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestWriteLayout(t *testing.T) {
	opts := options(imagebuild.Binary{Platform: amd64, Path: fakeBinary(t, "drill")})
	a, err := imagebuild.Build(opts)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "bin", "image")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stale"), []byte("x"), 0o644))

	for range 2 { // writing again replaces the layout, it does not add to it
		require.NoError(t, imagebuild.WriteLayout(dir, a, "v0.3.0"))
	}
	require.NoFileExists(t, filepath.Join(dir, "stale"))
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1)
	require.Equal(t, digest(t, a), m.Manifests[0].Digest)
	require.Equal(t, "v0.3.0", m.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	require.Equal(t, "linux/amd64", m.Manifests[0].Platform.String())
	img, err := idx.Image(m.Manifests[0].Digest)
	require.NoError(t, err)
	require.NoError(t, imagebuild.Verify(imagebuild.Artifact{Images: []v1.Image{img}}, opts))
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directory is left behind")
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		name       string
		ref        string
		wantScheme string
		wantErr    string
	}{
		{name: "a loopback registry is plain HTTP", ref: "127.0.0.1:5000/firedrill/drill:v1", wantScheme: "http"},
		{name: "localhost is plain HTTP", ref: "localhost:5000/drill:v1", wantScheme: "http"},
		{name: "an IPv6 loopback registry is plain HTTP", ref: "[::1]:5000/drill:v1", wantScheme: "http"},
		{name: "any other registry is HTTPS", ref: "ghcr.io/firedrill/drill:v1", wantScheme: "https"},
		{name: "a reference without a tag is refused", ref: "ghcr.io/firedrill/drill", wantErr: "parsing image reference"},
		{name: "a malformed reference is refused", ref: "ghcr.io/Fire Drill", wantErr: "parsing image reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := imagebuild.ParseReference(tt.ref)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantScheme, ref.Context().Scheme())
		})
	}
}
