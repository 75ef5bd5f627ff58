package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
)

const (
	// ArtifactType is the artifactType of a model manifest.
	ArtifactType = "application/vnd.firedrill.model.v1"
	// ConfigMediaType is the media type of the config blob, which holds the
	// model metadata as JSON.
	ConfigMediaType = "application/vnd.firedrill.model.config.v1+json"
	// LayerMediaTypePrefix prefixes the media type of every file layer; the
	// sanitised file name completes it.
	LayerMediaTypePrefix = "application/vnd.firedrill.model."
	// AnnotationDataHash is the manifest annotation that carries the hash of
	// the training data.
	AnnotationDataHash = "dev.firedrill.model.data-hash"
)

var (
	// ErrCorrupt is returned when an artifact's bytes do not match its digest
	// or size, whether they came from the registry or from the cache.
	ErrCorrupt = errors.New("artifact is corrupt")
	// ErrNotFound is returned when a reference names nothing in the registry.
	ErrNotFound = errors.New("artifact not found")
	// ErrNotCached is returned by Cached when the cache has no usable entry.
	ErrNotCached = errors.New("artifact not cached")
)

// Options configure a Store. The zero value talks to registries without a
// cache, over plain HTTP for loopback hosts and HTTPS otherwise.
type Options struct {
	// CacheDir is the root of the node-local cache. Empty disables the cache;
	// Pull and Cached then fail and only PullTo works.
	CacheDir string
	// PlainHTTP forces plain HTTP (true) or HTTPS (false). Nil means plain
	// HTTP for loopback registries and HTTPS otherwise.
	PlainHTTP *bool
	// HTTPClient sends registry requests. Nil means a client without retries,
	// so that an unreachable registry fails fast and callers fall back.
	HTTPClient *http.Client
	// Concurrency bounds parallel blob transfers and hashing. Zero means the
	// number of CPUs.
	Concurrency int
	// CacheVerify selects how much of a cache entry is checked each time it
	// is used. The zero value, VerifyDigests, hashes every file.
	CacheVerify CacheVerify
	// Logger receives operator logs. Nil means the logger in the context.
	Logger *slog.Logger
}

// CacheVerify selects how a cache entry is checked before it is used.
type CacheVerify int

const (
	// VerifyDigests checks every file's size and sha256 digest.
	VerifyDigests CacheVerify = iota
	// VerifySizes checks that every file exists with the size the manifest
	// records. It catches truncation and missing files at the cost of a
	// stat, and suits callers whose loader verifies content checksums itself
	// (model.Load does), so the bytes are not hashed twice on start-up.
	VerifySizes
)

// Store pushes, pulls and caches model artifacts. It is safe for concurrent
// use.
type Store struct {
	opts   Options
	client *http.Client
	cache  *cache
}

// New returns a Store.
func New(opts Options) (*Store, error) {
	if opts.CacheVerify != VerifyDigests && opts.CacheVerify != VerifySizes {
		return nil, fmt.Errorf("unknown cache verification mode %d", opts.CacheVerify)
	}
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("concurrency must not be negative, got %d", opts.Concurrency)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = max(2, runtime.GOMAXPROCS(0))
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   opts.Concurrency,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
	}
	s := &Store{opts: opts, client: client}
	if opts.CacheDir != "" {
		s.cache = &cache{root: opts.CacheDir, concurrency: opts.Concurrency, sizesOnly: opts.CacheVerify == VerifySizes}
	}
	return s, nil
}

// Artifact describes an artifact directory obtained from the store.
type Artifact struct {
	// Ref is the reference the artifact was asked for.
	Ref string
	// Digest is the manifest digest; it identifies the artifact.
	Digest digest.Digest
	// Dir holds the artifact's files.
	Dir string
	// Manifest is the artifact's OCI manifest.
	Manifest ocispec.Manifest
	// Config is the config blob: the metadata JSON given to Push.
	Config []byte
	// Version, Created and DataHash come from the manifest annotations.
	Version  string
	Created  time.Time
	DataHash string
	// CacheHit is true when no blob had to be downloaded.
	CacheHit bool
}

// PushOptions describe the artifact being pushed.
type PushOptions struct {
	// Version is the model version, recorded as the
	// org.opencontainers.image.version annotation.
	Version string
	// Created is the creation time, recorded as org.opencontainers.image.created.
	// The zero value means now. A fixed value makes the manifest reproducible.
	Created time.Time
	// DataHash is the training data hash.
	DataHash string
	// Config is the config blob, JSON. Nil means "{}".
	Config []byte
	// Annotations are extra manifest annotations.
	Annotations map[string]string
}

func (s *Store) logger(ctx context.Context) *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return log.FromContext(ctx)
}

func (s *Store) repository(ref Reference) *remote.Repository {
	plain := loopback.Host(ref.Registry)
	if s.opts.PlainHTTP != nil {
		plain = *s.opts.PlainHTTP
	}
	return &remote.Repository{Client: s.client, Reference: ref.Reference, PlainHTTP: plain}
}

// Push packs the flat directory dir and pushes it to ref, which must carry a
// tag. Blobs the registry already has are not uploaded again. It returns the
// manifest descriptor.
func (s *Store) Push(ctx context.Context, ref string, dir string, po PushOptions) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if r.IsDigest() {
		return ocispec.Descriptor{}, fmt.Errorf("pushing to %s: a tag is required, not a digest", ref)
	}
	files, err := listArtifact(dir)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	repo := s.repository(r)

	layers := make([]ocispec.Descriptor, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	for i, name := range files {
		g.Go(func() error {
			desc, err := s.pushFile(gctx, repo, filepath.Join(dir, name), name)
			if err != nil {
				return err
			}
			layers[i] = desc
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ocispec.Descriptor{}, err
	}

	cfg := po.Config
	if cfg == nil {
		cfg = []byte("{}")
	}
	if !json.Valid(cfg) {
		return ocispec.Descriptor{}, fmt.Errorf("pushing %s: config is not valid JSON", ref)
	}
	cfgDesc := content.NewDescriptorFromBytes(ConfigMediaType, cfg)
	if err := pushBytes(ctx, repo, cfgDesc, cfg); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing config of %s: %w", ref, err)
	}

	created := po.Created
	if created.IsZero() {
		created = time.Now()
	}
	annotations := map[string]string{}
	for k, v := range po.Annotations {
		annotations[k] = v
	}
	annotations[ocispec.AnnotationCreated] = created.UTC().Format(time.RFC3339Nano)
	if po.Version != "" {
		annotations[ocispec.AnnotationVersion] = po.Version
	}
	if po.DataHash != "" {
		annotations[AnnotationDataHash] = po.DataHash
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		Layers:              layers,
		ConfigDescriptor:    &cfgDesc,
		ManifestAnnotations: annotations,
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing manifest of %s: %w", ref, err)
	}
	if err := repo.Tag(ctx, desc, r.Reference.Reference); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("tagging %s: %w", ref, err)
	}
	s.logger(ctx).Info("pushed artifact", "ref", ref, "digest", desc.Digest, "layers", len(layers))
	return desc, nil
}

func pushBytes(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, data []byte) error {
	ok, err := repo.Exists(ctx, desc)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if err := repo.Push(ctx, desc, strings.NewReader(string(data))); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	return nil
}

func (s *Store) pushFile(ctx context.Context, repo *remote.Repository, path, name string) (ocispec.Descriptor, error) {
	dgst, size, err := digestFile(path)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{
		MediaType:   LayerMediaType(name),
		Digest:      dgst,
		Size:        size,
		Annotations: map[string]string{ocispec.AnnotationTitle: name},
	}
	ok, err := repo.Exists(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("checking blob %s: %w", name, err)
	}
	if ok {
		return desc, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("opening %s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	if err := repo.Push(ctx, desc, f); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return ocispec.Descriptor{}, fmt.Errorf("pushing blob %s: %w", name, err)
	}
	return desc, nil
}

// LayerMediaType returns the layer media type of the artifact file name, for
// example "application/vnd.firedrill.model.items.bin" for "items.bin".
func LayerMediaType(name string) string {
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '+', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		default:
			return '-'
		}
	}, name)
	n = strings.TrimLeft(n, ".-+_")
	if n == "" {
		n = "file"
	}
	return LayerMediaTypePrefix + n
}

// listArtifact returns the sorted names of the regular files in dir, which
// must be flat.
func listArtifact(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading artifact directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("artifact directory %s must be flat: %s is not a regular file", dir, e.Name())
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("artifact directory %s is empty", dir)
	}
	slices.Sort(names)
	return names, nil
}

func digestFile(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	d := digest.SHA256.Digester()
	n, err := io.Copy(d.Hash(), f)
	if err != nil {
		return "", 0, fmt.Errorf("hashing %s: %w", path, err)
	}
	return d.Digest(), n, nil
}
