package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// cache is the on-disk layout of the node-local cache:
//
//	artifacts/<alg>/<hex>/  the artifact files, named by their title annotation
//	configs/<alg>/<hex>     config blobs
//	manifests/<alg>/<hex>   manifest bytes; its presence commits the entry
//	refs/<sha256(ref)>      JSON {ref, digest}: what a tag pointed to when last pulled
//	locks/<alg>-<hex>       flock held while one process pulls that digest
//	tmp/                    staging; anything here is garbage
//
// Every file is written under tmp/ and renamed into place, and the manifest is
// written last, so a reader never mistakes a partial entry for a complete one.
type cache struct {
	root        string
	concurrency int
	sizesOnly   bool
}

func (c *cache) artifactDir(d digest.Digest) string {
	return filepath.Join(c.root, "artifacts", d.Algorithm().String(), d.Encoded())
}

func (c *cache) manifestPath(d digest.Digest) string {
	return filepath.Join(c.root, "manifests", d.Algorithm().String(), d.Encoded())
}

func (c *cache) configPath(d digest.Digest) string {
	return filepath.Join(c.root, "configs", d.Algorithm().String(), d.Encoded())
}

func (c *cache) refPath(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(c.root, "refs", hex.EncodeToString(sum[:]))
}

// lookup returns the verified entry for d. It returns ErrNotCached when there
// is no committed entry and ErrCorrupt when any byte fails verification.
func (c *cache) lookup(_ context.Context, d digest.Digest) (Artifact, error) {
	if err := d.Validate(); err != nil {
		return Artifact{}, fmt.Errorf("cache lookup: %w", err)
	}
	raw, err := os.ReadFile(c.manifestPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return Artifact{}, fmt.Errorf("%s: %w", d, ErrNotCached)
	}
	if err != nil {
		return Artifact{}, fmt.Errorf("reading cached manifest: %w", err)
	}
	if got := d.Algorithm().FromBytes(raw); got != d {
		return Artifact{}, fmt.Errorf("cached manifest %s: %w: digest is %s", d, ErrCorrupt, got)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return Artifact{}, fmt.Errorf("cached manifest %s: %w: %w", d, ErrCorrupt, err)
	}
	cfg, err := os.ReadFile(c.configPath(m.Config.Digest))
	if err != nil {
		return Artifact{}, fmt.Errorf("cached config %s: %w: %w", m.Config.Digest, ErrCorrupt, err)
	}
	if err := verifyBytes(cfg, m.Config); err != nil {
		return Artifact{}, fmt.Errorf("cached config: %w", err)
	}
	dir := c.artifactDir(d)
	if err := c.verifyDir(dir, m); err != nil {
		return Artifact{}, err
	}
	a := newArtifact("", d, dir, m, cfg)
	a.CacheHit = true
	return a, nil
}

func verifyBytes(b []byte, desc ocispec.Descriptor) error {
	if int64(len(b)) != desc.Size {
		return fmt.Errorf("%s: %w: size %d, want %d", desc.Digest, ErrCorrupt, len(b), desc.Size)
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return fmt.Errorf("%s: %w: digest is %s", desc.Digest, ErrCorrupt, got)
	}
	return nil
}

// verifyDir checks every layer file's size and (unless sizesOnly) digest,
// hashing files in parallel. Extra files are refused too: the artifact must be exactly what
// the manifest lists.
func (c *cache) verifyDir(dir string, m ocispec.Manifest) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cached artifact %s: %w: %w", dir, ErrCorrupt, err)
	}
	if len(entries) != len(m.Layers) {
		return fmt.Errorf("cached artifact %s: %w: %d files, want %d", dir, ErrCorrupt, len(entries), len(m.Layers))
	}
	var g errgroup.Group
	g.SetLimit(c.concurrency)
	for _, l := range m.Layers {
		g.Go(func() error {
			return verifyFile(filepath.Join(dir, l.Annotations[ocispec.AnnotationTitle]), l, c.sizesOnly)
		})
	}
	return g.Wait()
}

func verifyFile(path string, desc ocispec.Descriptor, sizeOnly bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cached file %s: %w: %w", path, ErrCorrupt, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cached file %s: %w", path, err)
	}
	if st.Size() != desc.Size {
		return fmt.Errorf("cached file %s: %w: size %d, want %d", path, ErrCorrupt, st.Size(), desc.Size)
	}
	if sizeOnly {
		return nil
	}
	d := desc.Digest.Algorithm().Digester()
	if _, err := io.Copy(d.Hash(), f); err != nil {
		return fmt.Errorf("hashing cached file %s: %w", path, err)
	}
	if got := d.Digest(); got != desc.Digest {
		return fmt.Errorf("cached file %s: %w: digest is %s, want %s", path, ErrCorrupt, got, desc.Digest)
	}
	return nil
}

// commit stages an entry with fill, then renames it into place and writes the
// config and the manifest. The caller holds the digest's lock, so a directory
// without a committed manifest is a crash leftover, never another process's
// work in progress.
func (c *cache) commit(ctx context.Context, d digest.Digest, rawManifest, cfg []byte, fill func(dir string) error) (Artifact, error) {
	m, err := parseManifest(rawManifest)
	if err != nil {
		return Artifact{}, err
	}
	tmpRoot := filepath.Join(c.root, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("creating cache staging directory: %w", err)
	}
	stage, err := os.MkdirTemp(tmpRoot, "artifact-*")
	if err != nil {
		return Artifact{}, fmt.Errorf("creating cache staging directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(stage) }()
	if err := fill(stage); err != nil {
		return Artifact{}, err
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("staging cache entry: %w", err)
	}
	dir := c.artifactDir(d)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Artifact{}, fmt.Errorf("creating cache directory: %w", err)
	}
	// A leftover directory without a committed manifest is garbage from a
	// crash or an eviction; replace it.
	if _, err := os.Stat(c.manifestPath(d)); errors.Is(err, fs.ErrNotExist) {
		if err := os.RemoveAll(dir); err != nil {
			return Artifact{}, fmt.Errorf("removing stale cache entry: %w", err)
		}
	}
	if err := os.Rename(stage, dir); err != nil {
		if a, lerr := c.lookup(ctx, d); lerr == nil {
			return a, nil
		}
		return Artifact{}, fmt.Errorf("committing cache entry %s: %w", d, err)
	}
	if err := WriteFileAtomic(c.configPath(m.Config.Digest), cfg); err != nil {
		return Artifact{}, err
	}
	if err := WriteFileAtomic(c.manifestPath(d), rawManifest); err != nil {
		return Artifact{}, err
	}
	return newArtifact("", d, dir, m, cfg), nil
}

// evict uncommits the entry (manifest first) and removes its files.
func (c *cache) evict(d digest.Digest) error {
	if err := os.Remove(c.manifestPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("evicting %s: %w", d, err)
	}
	if err := os.RemoveAll(c.artifactDir(d)); err != nil {
		return fmt.Errorf("evicting %s: %w", d, err)
	}
	return nil
}

type refRecord struct {
	Ref    string        `json:"ref"`
	Digest digest.Digest `json:"digest"`
}

func (c *cache) writeRef(ref string, d digest.Digest) error {
	if cur, err := c.readRef(ref); err == nil && cur == d {
		return nil // unchanged: spare the fsync on every start-up
	}
	b, err := json.Marshal(refRecord{Ref: ref, Digest: d})
	if err != nil {
		return fmt.Errorf("encoding ref record: %w", err)
	}
	return WriteFileAtomic(c.refPath(ref), b)
}

func (c *cache) readRef(ref string) (digest.Digest, error) {
	b, err := os.ReadFile(c.refPath(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s was never pulled: %w", ref, ErrNotCached)
	}
	if err != nil {
		return "", fmt.Errorf("reading ref record of %s: %w", ref, err)
	}
	var rec refRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Ref != ref || rec.Digest.Validate() != nil {
		return "", fmt.Errorf("ref record of %s is damaged: %w", ref, ErrNotCached)
	}
	return rec.Digest, nil
}

// WriteFileAtomic writes data to path through a synced temporary file in the
// same directory and a rename, so readers see the old or the new content,
// never a mix.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return nil
}
