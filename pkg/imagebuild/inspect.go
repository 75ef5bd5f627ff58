package imagebuild

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxBody is the largest file whose contents Inspect keeps.
const maxBody = 64 << 10

// File is one entry of an image's filesystem.
type File struct {
	// Path is absolute, without a trailing slash.
	Path string
	// Dir is true for a directory, false for a regular file.
	Dir bool
	// Mode holds the permission bits with setuid, setgid and sticky.
	Mode     int64
	UID, GID int
	Size     int64
	ModTime  time.Time
	// SHA256 is the hex digest of a regular file's contents.
	SHA256 string
	// Body is a regular file's contents when it is at most 64 KiB.
	Body []byte
}

// Contents is what Inspect reads from an image.
type Contents struct {
	// Digest is the image manifest's digest.
	Digest v1.Hash
	// Config is the image's config file.
	Config *v1.ConfigFile
	// Annotations are the image manifest's annotations.
	Annotations map[string]string
	// Files are the entries of every layer by path; an entry in a later
	// layer replaces one in an earlier layer.
	Files map[string]File
	// Compressed is the sum of the layers' sizes as stored and pulled.
	Compressed int64
	// Uncompressed is the sum of the layers' tar sizes.
	Uncompressed int64
}

// Paths returns the paths of Files, sorted.
func (c *Contents) Paths() []string {
	out := make([]string, 0, len(c.Files))
	for p := range c.Files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Inspect reads img's config, manifest and every layer.
func Inspect(img v1.Image) (*Contents, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading image digest: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading image layers: %w", err)
	}
	c := &Contents{Digest: digest, Config: cfg, Annotations: m.Annotations, Files: map[string]File{}}
	for i, l := range layers {
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("reading the size of layer %d: %w", i, err)
		}
		c.Compressed += size
		n, err := readLayer(l, c.Files)
		if err != nil {
			return nil, fmt.Errorf("reading layer %d: %w", i, err)
		}
		c.Uncompressed += n
	}
	return c, nil
}

// readLayer adds l's entries to files and returns the tar's size.
func readLayer(l v1.Layer, files map[string]File) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("opening layer: %w", err)
	}
	defer func() { _ = rc.Close() }() // read-only
	counted := &countingReader{r: rc}
	tr := tar.NewReader(counted)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading tar: %w", err)
		}
		f := File{
			Path:    path.Clean("/" + hdr.Name),
			Mode:    hdr.Mode,
			UID:     hdr.Uid,
			GID:     hdr.Gid,
			Size:    hdr.Size,
			ModTime: hdr.ModTime.UTC(),
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			f.Dir = true
		case tar.TypeReg:
			h := sha256.New()
			var body []byte
			if hdr.Size <= maxBody {
				body, err = io.ReadAll(io.TeeReader(tr, h))
			} else {
				_, err = io.Copy(h, tr)
			}
			if err != nil {
				return 0, fmt.Errorf("reading %s: %w", f.Path, err)
			}
			f.SHA256, f.Body = hex.EncodeToString(h.Sum(nil)), body
		default:
			return 0, fmt.Errorf("%s: unexpected tar entry type %q", f.Path, hdr.Typeflag)
		}
		files[f.Path] = f
	}
	// Read the tar's end padding so the size is the whole tar's.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return 0, fmt.Errorf("reading tar end: %w", err)
	}
	return counted.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Verify checks that a is what Build makes from opts: per platform the
// config (user, entrypoint, labels, platform, creation time) and the exact
// file list, with owners, modes, timestamps and the contents of the binary
// and the CA bundle. It returns every difference at once.
func Verify(a Artifact, opts Options) error {
	if err := opts.validate(); err != nil {
		return fmt.Errorf("invalid image options: %w", err)
	}
	if len(a.Images) != len(opts.Binaries) {
		return fmt.Errorf("artifact has %d images, want %d", len(a.Images), len(opts.Binaries))
	}
	var errs []error
	if err := verifyIndex(a, opts); err != nil {
		errs = append(errs, err)
	}
	certs, err := sha256File(opts.CACerts)
	if err != nil {
		return err
	}
	for i, b := range opts.Binaries {
		bin, err := sha256File(b.Path)
		if err != nil {
			return err
		}
		c, err := Inspect(a.Images[i])
		if err != nil {
			return fmt.Errorf("inspecting the %s image: %w", b.Platform.String(), err)
		}
		for _, e := range verifyImage(c, opts, b.Platform, bin, certs) {
			errs = append(errs, fmt.Errorf("%s image: %w", b.Platform.String(), e))
		}
	}
	return errors.Join(errs...)
}

func verifyIndex(a Artifact, opts Options) error {
	if len(opts.Binaries) == 1 {
		if a.Index != nil {
			return errors.New("one platform, but an index")
		}
		return nil
	}
	if a.Index == nil {
		return fmt.Errorf("%d platforms, but no index", len(opts.Binaries))
	}
	m, err := a.Index.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index manifest: %w", err)
	}
	if len(m.Manifests) != len(a.Images) {
		return fmt.Errorf("index lists %d manifests, want %d", len(m.Manifests), len(a.Images))
	}
	var errs []error
	for i, d := range m.Manifests {
		want := opts.Binaries[i].Platform
		if d.Platform == nil || d.Platform.String() != want.String() {
			errs = append(errs, fmt.Errorf("index manifest %d: platform %v, want %s", i, d.Platform, want.String()))
		}
		if dg, err := a.Images[i].Digest(); err != nil || dg != d.Digest {
			errs = append(errs, fmt.Errorf("index manifest %d: digest %s is not the %s image's", i, d.Digest, want.String()))
		}
	}
	return errors.Join(errs...)
}

// wantFile is what verifyImage expects of one path.
type wantFile struct {
	dir      bool
	mode     int64
	uid      int
	sha256   string
	contains string
}

func verifyImage(c *Contents, opts Options, p v1.Platform, binSHA, certsSHA string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	cfg := c.Config
	created := opts.created()
	if got := (v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}); got.String() != p.String() {
		bad("platform %s, want %s", got.String(), p.String())
	}
	if !cfg.Created.Equal(created) {
		bad("created %s, want %s", cfg.Created.Time, created)
	}
	if cfg.Config.User != User {
		bad("user %q, want %q", cfg.Config.User, User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{BinaryPath}) {
		bad("entrypoint %q, want %q", cfg.Config.Entrypoint, BinaryPath)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"serve"}) {
		bad("cmd %q, want [serve]", cfg.Config.Cmd)
	}
	if cfg.Config.WorkingDir != "/" {
		bad("working directory %q, want /", cfg.Config.WorkingDir)
	}
	for k, v := range opts.labels() {
		if cfg.Config.Labels[k] != v {
			bad("label %s=%q, want %q", k, cfg.Config.Labels[k], v)
		}
		if c.Annotations[k] != v {
			bad("manifest annotation %s=%q, want %q", k, c.Annotations[k], v)
		}
	}

	want := map[string]wantFile{
		"/etc":           {dir: true, mode: 0o755},
		"/etc/group":     {mode: 0o644, contains: "\nnonroot:x:65532:\n"},
		"/etc/passwd":    {mode: 0o644, contains: "\nnonroot:x:65532:65532:"},
		"/etc/ssl":       {dir: true, mode: 0o755},
		"/etc/ssl/certs": {dir: true, mode: 0o755},
		CACertsPath:      {mode: 0o644, sha256: certsSHA},
		"/home":          {dir: true, mode: 0o755},
		"/home/nonroot":  {dir: true, mode: 0o700, uid: UID},
		"/tmp":           {dir: true, mode: 0o1777},
		"/usr":           {dir: true, mode: 0o755},
		"/usr/local":     {dir: true, mode: 0o755},
		"/usr/local/bin": {dir: true, mode: 0o755},
		BinaryPath:       {mode: 0o755, sha256: binSHA},
	}
	for _, path := range c.Paths() {
		f := c.Files[path]
		w, ok := want[path]
		if !ok {
			bad("unexpected %s", path)
			continue
		}
		if f.Dir != w.dir {
			bad("%s: directory %t, want %t", path, f.Dir, w.dir)
		}
		if f.Mode != w.mode {
			bad("%s: mode %#o, want %#o", path, f.Mode, w.mode)
		}
		if f.UID != w.uid || f.GID != w.uid {
			bad("%s: owner %d:%d, want %d:%d", path, f.UID, f.GID, w.uid, w.uid)
		}
		if !f.ModTime.Equal(created) {
			bad("%s: modified %s, want %s", path, f.ModTime, created)
		}
		if w.sha256 != "" && f.SHA256 != w.sha256 {
			bad("%s: sha256 %s, want %s", path, f.SHA256, w.sha256)
		}
		if w.contains != "" && !strings.Contains(string(f.Body), w.contains) {
			bad("%s: no line %q", path, strings.TrimSpace(w.contains))
		}
	}
	for _, path := range slices.Sorted(maps.Keys(want)) {
		if _, ok := c.Files[path]; !ok {
			bad("missing %s", path)
		}
	}
	return errs
}

func sha256File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", name, err)
	}
	defer func() { _ = f.Close() }() // read-only
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
