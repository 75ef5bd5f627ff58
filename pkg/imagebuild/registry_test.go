package imagebuild_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/imagebuild"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// startRegistry starts the embedded registry on loopback for one test.
func startRegistry(t *testing.T) string {
	t.Helper()
	reg, err := ociregistry.New(ociregistry.Options{Root: t.TempDir(), Logger: log.Discard()})
	require.NoError(t, err)
	require.NoError(t, reg.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, reg.Stop(context.Background())) })
	return reg.Addr()
}

// buildHello compiles testdata/hello the way make image compiles drill:
// static, trimmed, for linux on this machine's architecture.
func buildHello(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", b)
	return out
}

// extract writes the regular file at path in img's filesystem to a
// temporary file with its mode from the image and returns that file.
func extract(t *testing.T, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not in the image", path)
		}
		require.NoError(t, err)
		if "/"+hdr.Name != path {
			continue
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, os.FileMode(hdr.Mode).Perm())
		require.NoError(t, err)
		_, err = io.Copy(f, tr)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		return out
	}
}

func TestPushPullThroughTheEmbeddedRegistry(t *testing.T) {
	addr := startRegistry(t)
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	opts := options(imagebuild.Binary{Platform: platform, Path: buildHello(t)})
	built, err := imagebuild.Build(opts)
	require.NoError(t, err)

	ref, err := imagebuild.ParseReference(addr + "/firedrill/drill:v0.3.0")
	require.NoError(t, err)
	require.NoError(t, imagebuild.Push(t.Context(), ref, built))

	pulled, err := imagebuild.Pull(t.Context(), ref)
	require.NoError(t, err)
	require.Equal(t, digest(t, built), digest(t, pulled), "the registry serves the digest that was built")
	require.NoError(t, imagebuild.Verify(pulled, opts))

	c, err := imagebuild.Inspect(pulled.Images[0])
	require.NoError(t, err)
	require.Equal(t, "65532:65532", c.Config.Config.User)
	require.Equal(t, []string{"/usr/local/bin/drill"}, c.Config.Config.Entrypoint)
	require.Equal(t, "v0.3.0", c.Config.Config.Labels["org.opencontainers.image.version"])
	require.Contains(t, c.Files, "/etc/ssl/certs/ca-certificates.crt")
	require.Equal(t, int64(0o755), c.Files["/usr/local/bin/drill"].Mode)
	require.Contains(t, string(c.Files["/etc/passwd"].Body), ":65532:65532:")

	// The binary that comes back out of the registry is the one that went in
	// and still runs, with the image's default command.
	bin := extract(t, pulled.Images[0], "/usr/local/bin/drill")
	out, err := exec.CommandContext(t.Context(), bin, c.Config.Config.Cmd...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "hello from the image [serve]\n", string(out))
}

func TestPushPullAnIndex(t *testing.T) {
	addr := startRegistry(t)
	opts := options(
		imagebuild.Binary{Platform: amd64, Path: fakeBinary(t, "amd64")},
		imagebuild.Binary{Platform: arm64, Path: fakeBinary(t, "arm64")},
	)
	built, err := imagebuild.Build(opts)
	require.NoError(t, err)
	ref, err := imagebuild.ParseReference(addr + "/firedrill/drill:multi")
	require.NoError(t, err)
	require.NoError(t, imagebuild.Push(t.Context(), ref, built))

	pulled, err := imagebuild.Pull(t.Context(), ref)
	require.NoError(t, err)
	require.NotNil(t, pulled.Index)
	require.Equal(t, digest(t, built), digest(t, pulled))
	require.NoError(t, imagebuild.Verify(pulled, opts))
}

func TestPullReportsAMissingImage(t *testing.T) {
	addr := startRegistry(t)
	ref, err := imagebuild.ParseReference(addr + "/firedrill/drill:absent")
	require.NoError(t, err)
	_, err = imagebuild.Pull(t.Context(), ref)
	require.ErrorContains(t, err, "pulling "+addr+"/firedrill/drill:absent")
}
