package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// Resolve returns the manifest digest a reference points to now. It is one
// HEAD request, cheap enough for polling a tag.
func (s *Store) Resolve(ctx context.Context, ref string) (digest.Digest, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	desc, err := s.repository(r).Resolve(ctx, r.Reference.Reference)
	if err != nil {
		return "", classify(fmt.Errorf("resolving %s: %w", ref, err))
	}
	return desc.Digest, nil
}

// Pull makes the artifact ref points to available in the cache and returns
// it. A valid cache entry for the resolved digest is used without downloading
// anything; a damaged one is evicted and pulled again. A digest reference
// whose entry is cached is served without contacting the registry.
func (s *Store) Pull(ctx context.Context, ref string) (Artifact, error) {
	if s.cache == nil {
		return Artifact{}, errors.New("pulling into the cache: no cache directory configured")
	}
	r, err := ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	if r.IsDigest() {
		if a, err := s.cache.lookup(ctx, digest.Digest(r.Reference.Reference)); err == nil {
			a.Ref = ref
			return a, nil
		}
	}
	desc, err := s.repository(r).Resolve(ctx, r.Reference.Reference)
	if err != nil {
		return Artifact{}, classify(fmt.Errorf("resolving %s: %w", ref, err))
	}
	return s.PullDigest(ctx, ref, desc.Digest)
}

// PullDigest is Pull for a digest the caller has already resolved ref to
// (with Resolve), saving a round trip: a cached digest is returned without
// contacting the registry. The cache records that ref pointed to d.
func (s *Store) PullDigest(ctx context.Context, ref string, d digest.Digest) (Artifact, error) {
	if s.cache == nil {
		return Artifact{}, errors.New("pulling into the cache: no cache directory configured")
	}
	r, err := ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	if err := d.Validate(); err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	hit := func() (Artifact, bool, error) {
		a, err := s.cache.lookup(ctx, d)
		if err != nil {
			return a, false, err
		}
		a.Ref = ref
		return a, true, s.cache.writeRef(ref, d)
	}
	a, ok, err := hit()
	if ok {
		return a, err
	}
	if errors.Is(err, ErrCorrupt) {
		s.logger(ctx).Warn("evicting corrupt cache entry", "digest", d, "err", err)
		if err := s.cache.evict(d); err != nil {
			return Artifact{}, err
		}
	}

	unlock, err := s.cache.lockDigest(ctx, d)
	if err != nil {
		return Artifact{}, err
	}
	defer unlock()
	// Another process sharing the cache may have pulled it while we waited.
	if a, ok, err := hit(); ok {
		return a, err
	}

	start := time.Now()
	repo := s.repository(r)
	desc, err := repo.Resolve(ctx, d.String())
	if err != nil {
		return Artifact{}, classify(fmt.Errorf("resolving %s@%s: %w", ref, d, err))
	}
	if desc.Digest != d {
		return Artifact{}, fmt.Errorf("pulling %s: registry resolved %s to %s: %w", ref, d, desc.Digest, ErrCorrupt)
	}
	manifest, rawManifest, cfg, err := s.fetchManifest(ctx, repo, desc)
	if err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	a, err = s.cache.commit(ctx, d, rawManifest, cfg, func(dir string) error {
		return s.fetchLayers(ctx, repo, manifest, dir)
	})
	if err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := s.cache.writeRef(ref, d); err != nil {
		return Artifact{}, err
	}
	a.Ref = ref
	s.logger(ctx).Info("pulled artifact", "ref", ref, "digest", d, "duration", time.Since(start))
	return a, nil
}

// Cached returns the cached artifact for ref without contacting the
// registry: the pinned digest for a digest reference, or the digest the tag
// pointed to when it was last pulled. A damaged entry is evicted and
// reported as ErrNotCached wrapping ErrCorrupt.
func (s *Store) Cached(ctx context.Context, ref string) (Artifact, error) {
	if s.cache == nil {
		return Artifact{}, fmt.Errorf("looking up %s: %w: no cache directory configured", ref, ErrNotCached)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	var dgst digest.Digest
	if r.IsDigest() {
		dgst = digest.Digest(r.Reference.Reference)
	} else {
		dgst, err = s.cache.readRef(ref)
		if err != nil {
			return Artifact{}, err
		}
	}
	a, err := s.cache.lookup(ctx, dgst)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			s.logger(ctx).Warn("evicting corrupt cache entry", "digest", dgst, "err", err)
			if eerr := s.cache.evict(dgst); eerr != nil {
				return Artifact{}, eerr
			}
			return Artifact{}, fmt.Errorf("looking up %s: %w: %w", ref, ErrNotCached, err)
		}
		return Artifact{}, fmt.Errorf("looking up %s: %w", ref, err)
	}
	a.Ref = ref
	return a, nil
}

// Evict removes the cache entry of dgst, for example after a loader found
// its content unusable.
func (s *Store) Evict(_ context.Context, dgst digest.Digest) error {
	if s.cache == nil {
		return nil
	}
	return s.cache.evict(dgst)
}

// PullTo downloads the artifact ref points to into dir, which must not
// exist. The directory appears complete or not at all.
func (s *Store) PullTo(ctx context.Context, ref, dir string) (Artifact, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Artifact{}, err
	}
	if _, err := os.Lstat(dir); err == nil {
		return Artifact{}, fmt.Errorf("pulling %s: %s already exists", ref, dir)
	}
	repo := s.repository(r)
	desc, err := repo.Resolve(ctx, r.Reference.Reference)
	if err != nil {
		return Artifact{}, classify(fmt.Errorf("resolving %s: %w", ref, err))
	}
	manifest, _, cfg, err := s.fetchManifest(ctx, repo, desc)
	if err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, ".pull-*")
	if err != nil {
		return Artifact{}, fmt.Errorf("creating staging directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := s.fetchLayers(ctx, repo, manifest, tmp); err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return newArtifact(ref, desc.Digest, dir, manifest, cfg), nil
}

func (s *Store) fetchManifest(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) (ocispec.Manifest, []byte, []byte, error) {
	raw, err := content.FetchAll(ctx, repo, desc)
	if err != nil {
		return ocispec.Manifest{}, nil, nil, classify(fmt.Errorf("fetching manifest %s: %w", desc.Digest, err))
	}
	manifest, err := parseManifest(raw)
	if err != nil {
		return ocispec.Manifest{}, nil, nil, err
	}
	cfg, err := content.FetchAll(ctx, repo.Blobs(), manifest.Config)
	if err != nil {
		return ocispec.Manifest{}, nil, nil, classify(fmt.Errorf("fetching config %s: %w", manifest.Config.Digest, err))
	}
	return manifest, raw, cfg, nil
}

func parseManifest(raw []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("decoding manifest: %w: %w", ErrCorrupt, err)
	}
	if m.ArtifactType != ArtifactType {
		return m, fmt.Errorf("manifest has artifactType %q, want %q", m.ArtifactType, ArtifactType)
	}
	if m.Config.MediaType != ConfigMediaType {
		return m, fmt.Errorf("manifest config has media type %q, want %q", m.Config.MediaType, ConfigMediaType)
	}
	seen := map[string]bool{}
	for _, l := range m.Layers {
		name := l.Annotations[ocispec.AnnotationTitle]
		if !validFileName(name) {
			return m, fmt.Errorf("layer %s has an unsafe file name %q", l.Digest, name)
		}
		if seen[name] {
			return m, fmt.Errorf("layer file name %q appears twice", name)
		}
		seen[name] = true
		if err := l.Digest.Validate(); err != nil {
			return m, fmt.Errorf("layer %q: %w", name, err)
		}
		if l.Size < 0 {
			return m, fmt.Errorf("layer %q has a negative size", name)
		}
	}
	return m, nil
}

func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && !strings.ContainsRune(name, 0)
}

func (s *Store) fetchLayers(ctx context.Context, repo *remote.Repository, m ocispec.Manifest, dir string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	for _, l := range m.Layers {
		g.Go(func() error {
			return fetchBlob(gctx, repo, l, filepath.Join(dir, l.Annotations[ocispec.AnnotationTitle]))
		})
	}
	return g.Wait()
}

func fetchBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, path string) (err error) {
	name := filepath.Base(path)
	rc, err := repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return classify(fmt.Errorf("fetching %s (%s): %w", name, desc.Digest, err))
	}
	defer func() { _ = rc.Close() }()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", path, cerr)
		}
	}()
	vr := content.NewVerifyReader(rc, desc)
	if _, err := io.Copy(f, vr); err != nil {
		return classify(fmt.Errorf("downloading %s (%s): %w", name, desc.Digest, err))
	}
	if err := vr.Verify(); err != nil {
		return classify(fmt.Errorf("verifying %s (%s): %w", name, desc.Digest, err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// classify adds ErrCorrupt or ErrNotFound to registry errors that mean the
// content is damaged or absent, keeping the original cause.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, content.ErrInvalidDescriptorSize),
		// oras-go reports a body shorter or longer than the descriptor
		// without a sentinel error.
		strings.Contains(err.Error(), "mismatch Content-Length"):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	default:
		return err
	}
}

func newArtifact(ref string, dgst digest.Digest, dir string, m ocispec.Manifest, cfg []byte) Artifact {
	a := Artifact{
		Ref:      ref,
		Digest:   dgst,
		Dir:      dir,
		Manifest: m,
		Config:   cfg,
		Version:  m.Annotations[ocispec.AnnotationVersion],
		DataHash: m.Annotations[AnnotationDataHash],
	}
	if t, err := time.Parse(time.RFC3339Nano, m.Annotations[ocispec.AnnotationCreated]); err == nil {
		a.Created = t
	}
	return a
}
