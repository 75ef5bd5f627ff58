package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/utils/clock"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/loopback"
	"github.com/firedrill/firedrill/pkg/report"
)

// Media types and annotations of a report artifact.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.firedrill.report.v1"
	// EntryMediaType is the config blob's media type: the run's index
	// entry as JSON.
	EntryMediaType = "application/vnd.firedrill.report.entry.v1+json"
	// AnnotationPlan carries the plan's name.
	AnnotationPlan = "dev.firedrill.report.plan"
	// AnnotationRunID carries the run id.
	AnnotationRunID = "dev.firedrill.report.run-id"
	// AnnotationPhase carries the run's phase.
	AnnotationPhase = "dev.firedrill.report.phase"
	// AnnotationVerdict carries the run's verdict.
	AnnotationVerdict = "dev.firedrill.report.verdict"
	// AnnotationStartTime carries the run's start time, RFC 3339; so does
	// org.opencontainers.image.created.
	AnnotationStartTime = "dev.firedrill.report.start-time"
)

// Scheme prefixes an archive location that is a registry.
const Scheme = "oci://"

// ErrExists is returned by Put when the run's tag already names an
// artifact with other content: archived evidence is never overwritten.
var ErrExists = errors.New("run already archived")

// Options configure an Archive. The zero value reads credentials from the
// Docker configuration, speaks plain HTTP to loopback registries only, and
// tries a push 4 times over about 7 s.
type Options struct {
	// Username and Password authenticate to the registry; when Username is
	// empty, credentials come from CredentialsFile.
	Username string
	Password action.Secret
	// CredentialsFile is a Docker config.json (docker login, oras login);
	// empty means $DOCKER_CONFIG/config.json or ~/.docker/config.json.
	CredentialsFile string
	// PlainHTTP forces plain HTTP (true) or HTTPS (false); nil means plain
	// HTTP for loopback registries only.
	PlainHTTP *bool
	// HTTPClient sends the requests; nil means a client with connection
	// and header timeouts.
	HTTPClient *http.Client
	// Attempts is how many times a push is tried; 0 means 4.
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// next one; 0 means 1s.
	Backoff time.Duration
	// AttemptTimeout bounds one attempt; 0 means 2 minutes.
	AttemptTimeout time.Duration
	// Concurrency bounds parallel requests when listing; 0 means 8.
	Concurrency int
	// Clock paces the retries; nil means the real clock.
	Clock clock.Clock
}

func (o *Options) defaults() {
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 2 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Archive is a registry repository that holds report artifacts. It is safe
// for concurrent use.
type Archive struct {
	ref    registry.Reference
	repo   *remote.Repository
	client *auth.Client
	plain  bool
	opts   Options
}

// IsLocation says whether an archive location names a registry.
func IsLocation(loc string) bool { return strings.HasPrefix(loc, Scheme) }

// New returns the archive at location, oci://host[:port]/repository.
func New(location string, opts Options) (*Archive, error) {
	opts.defaults()
	rest, ok := strings.CutPrefix(location, Scheme)
	if !ok {
		return nil, fmt.Errorf("archive %q: a registry archive is oci://host/repository", location)
	}
	ref, err := registry.ParseReference(rest)
	if err != nil {
		return nil, fmt.Errorf("archive %q: %w", location, err)
	}
	if ref.Reference != "" {
		return nil, fmt.Errorf("archive %q: name a repository, without a tag or digest: every run gets its own tag", location)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   opts.Concurrency,
			ForceAttemptHTTP2:     true,
		}}
	}
	cred, err := credentialFunc(ref.Registry, opts)
	if err != nil {
		return nil, err
	}
	client := &auth.Client{Client: hc, Cache: auth.NewCache(), Credential: cred}
	client.SetUserAgent("firedrill")
	plain := loopback.Host(ref.Registry)
	if opts.PlainHTTP != nil {
		plain = *opts.PlainHTTP
	}
	repo := &remote.Repository{Client: client, Reference: ref, PlainHTTP: plain}
	return &Archive{ref: ref, repo: repo, client: client, plain: plain, opts: opts}, nil
}

func credentialFunc(host string, opts Options) (auth.CredentialFunc, error) {
	if opts.Username != "" {
		return auth.StaticCredential(host, auth.Credential{Username: opts.Username, Password: opts.Password.Reveal()}), nil
	}
	var (
		store *credentials.DynamicStore
		err   error
	)
	if opts.CredentialsFile != "" {
		store, err = credentials.NewStore(opts.CredentialsFile, credentials.StoreOptions{})
	} else {
		store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials: %w", err)
	}
	return credentials.Credential(store), nil
}

// String is the archive's location, oci://host/repository.
func (a *Archive) String() string { return Scheme + a.ref.Registry + "/" + a.ref.Repository }

// Ref is the reference of a run's artifact: host/repository:tag.
func (a *Archive) Ref(runID string) string {
	return a.ref.Registry + "/" + a.ref.Repository + ":" + Tag(runID)
}

var tagRx = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// Tag is the tag of a run's artifact: the run id when it is a valid tag,
// else the run id with invalid characters replaced and, when too long,
// shortened with a hash so two runs never share a tag.
func Tag(runID string) string {
	if tagRx.MatchString(runID) {
		return runID
	}
	var b strings.Builder
	for i, r := range runID {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '.' || r == '-'))
		if !ok {
			r = '_'
		}
		b.WriteRune(r)
	}
	h := sha256.Sum256([]byte(runID))
	s := b.String()
	if len(s) > 110 {
		s = s[:110]
	}
	return s + "-" + hex.EncodeToString(h[:8])
}

func (a *Archive) scoped(ctx context.Context, actions ...string) context.Context {
	return auth.AppendRepositoryScope(ctx, a.ref, actions...)
}

// Check proves the registry can take a report: it is reachable, the
// credentials are accepted, and they may push to the repository. It starts
// a blob upload and cancels it, so it leaves nothing behind.
func (a *Archive) Check(ctx context.Context) error {
	ctx = a.scoped(ctx, auth.ActionPull, auth.ActionPush)
	scheme := "https"
	if a.plain {
		scheme = "http"
	}
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/uploads/", scheme, a.ref.Host(), a.ref.Repository)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return fmt.Errorf("archive %s: %w", a, err)
	}
	resp, err := a.client.Do(req)
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return fmt.Errorf("archive %s: the registry asks for credentials and none were given: %s", a, a.credentialHint())
	}
	if err != nil {
		return fmt.Errorf("archive %s: the registry cannot be reached: %w", a, err)
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
	case http.StatusUnauthorized:
		return fmt.Errorf("archive %s: the registry refused the credentials (401 Unauthorized): %s", a, a.credentialHint())
	case http.StatusForbidden:
		return fmt.Errorf("archive %s: the credentials may not push to %s (403 Forbidden)", a, a.ref.Repository)
	default:
		return fmt.Errorf("archive %s: starting a test upload: the registry answered %s", a, resp.Status)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := resp.Request.URL.Parse(loc)
		if err == nil {
			if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil); err == nil {
				if resp, err := a.client.Do(del); err == nil {
					_ = resp.Body.Close()
				}
			}
		}
	}
	return nil
}

func (a *Archive) credentialHint() string {
	if a.opts.Username != "" {
		return "check --archive-username and the password (FIREDRILL_ARCHIVE_PASSWORD)"
	}
	return "give --archive-username and FIREDRILL_ARCHIVE_PASSWORD, or log in with `docker login " + a.ref.Registry + "`"
}

// artifact builds the manifest of a report set and its blobs.
func (a *Archive) artifact(e index.Entry, files []report.File) (ocispec.Descriptor, []byte, []blob, error) {
	var blobs []blob
	e.Digest = "" // the manifest's digest, which the entry cannot hold
	cfg, err := json.Marshal(e)
	if err != nil {
		return ocispec.Descriptor{}, nil, nil, fmt.Errorf("encoding the index entry: %w", err)
	}
	config := content.NewDescriptorFromBytes(EntryMediaType, cfg)
	blobs = append(blobs, blob{config, cfg})
	var layers []ocispec.Descriptor
	for _, f := range files {
		d := content.NewDescriptorFromBytes(mediaType(f.Name), f.Data)
		d.Annotations = map[string]string{ocispec.AnnotationTitle: f.Name}
		layers = append(layers, d)
		blobs = append(blobs, blob{withoutAnnotations(d), f.Data})
	}
	start := e.StartTime.UTC().Format(time.RFC3339)
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       config,
		Layers:       layers,
		Annotations: map[string]string{
			AnnotationPlan: e.Plan, AnnotationRunID: e.RunID, AnnotationPhase: string(e.Phase), AnnotationVerdict: string(e.Verdict),
			AnnotationStartTime: start, ocispec.AnnotationCreated: start,
		},
	}
	data, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, nil, nil, fmt.Errorf("encoding the manifest: %w", err)
	}
	return content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data), data, blobs, nil
}

// blob is content to upload.
type blob struct {
	desc ocispec.Descriptor
	data []byte
}

func withoutAnnotations(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// mediaType is a report file's media type.
func mediaType(name string) string {
	switch {
	case name == report.JSONFile:
		return "application/vnd.firedrill.report.v2+json"
	case name == sums.FileName:
		return "text/plain"
	case strings.HasSuffix(name, ".md"):
		return "text/markdown"
	case strings.HasSuffix(name, ".html"):
		return "text/html"
	case strings.HasSuffix(name, ".xml"):
		return "application/xml"
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	}
	return "application/octet-stream"
}

// Put pushes one run's report set as an artifact tagged with its run id
// and returns the entry with its Path (host/repository:tag) and Digest
// (the manifest's). A push that fails on the way (the registry goes away,
// answers 5xx or 429) is retried with backoff; content the registry already
// has is not sent again. A run whose tag already names the same artifact
// succeeds at once; another artifact fails with ErrExists.
func (a *Archive) Put(ctx context.Context, e index.Entry, files []report.File) (index.Entry, error) {
	manifest := findFile(files, sums.FileName)
	if manifest == nil {
		return e, fmt.Errorf("archiving %s: the report set has no %s", e.Key(), sums.FileName)
	}
	if err := sums.Verify(manifest, files); err != nil {
		return e, fmt.Errorf("archiving %s: the report set does not match its %s: %w", e.Key(), sums.FileName, err)
	}
	e.Path = a.Ref(e.RunID)
	desc, data, blobs, err := a.artifact(e, files)
	if err != nil {
		return e, err
	}
	e.Digest = desc.Digest.String()
	logger := log.FromContext(ctx)
	wait := a.opts.Backoff
	var last error
	attempt := 1
	for ; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, a.opts.AttemptTimeout)
		last = a.push(actx, e.RunID, desc, data, blobs)
		cancel()
		if last == nil {
			return e, nil
		}
		if !retryable(last) || ctx.Err() != nil || attempt == a.opts.Attempts {
			break
		}
		logger.Warn("pushing the report failed; retrying", "archive", a.String(), "run", e.RunID, "attempt", attempt, "wait", wait, "err", last)
		select {
		case <-ctx.Done():
			return e, fmt.Errorf("pushing the report to %s: %w (after %d attempts, the last: %w)", a, ctx.Err(), attempt, last)
		case <-a.opts.Clock.After(wait):
		}
		wait *= 2
	}
	if errors.Is(last, ErrExists) {
		return e, last
	}
	return e, fmt.Errorf("pushing the report to %s failed after %d attempts: %w", a, attempt, last)
}

// push is one attempt: blobs the registry lacks, then the manifest under
// the run's tag.
func (a *Archive) push(ctx context.Context, runID string, desc ocispec.Descriptor, data []byte, blobs []blob) error {
	ctx = a.scoped(ctx, auth.ActionPull, auth.ActionPush)
	tag := Tag(runID)
	switch got, err := a.repo.Resolve(ctx, tag); {
	case err == nil && got.Digest == desc.Digest:
		return nil
	case err == nil:
		return fmt.Errorf("archiving run %s: %w: %s is %s, not this report (%s); archived evidence is never overwritten", runID, ErrExists, a.Ref(runID), got.Digest, desc.Digest)
	case !errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("resolving %s: %w", a.Ref(runID), err)
	}
	for _, b := range blobs {
		ok, err := a.repo.Blobs().Exists(ctx, b.desc)
		if err != nil {
			return fmt.Errorf("checking blob %s: %w", b.desc.Digest, err)
		}
		if ok {
			continue
		}
		if err := a.repo.Blobs().Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return fmt.Errorf("uploading blob %s: %w", b.desc.Digest, err)
		}
	}
	if err := a.repo.Manifests().PushReference(ctx, desc, bytes.NewReader(data), tag); err != nil {
		return fmt.Errorf("uploading the manifest of run %s: %w", runID, err)
	}
	return nil
}

// retryable says whether a failed attempt may succeed when tried again:
// a network error or a server-side failure, not a refusal.
func retryable(err error) bool {
	if errors.Is(err, ErrExists) || errors.Is(err, context.Canceled) || errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return false
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	}
	return true
}

func findFile(files []report.File, name string) []byte {
	for _, f := range files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}
