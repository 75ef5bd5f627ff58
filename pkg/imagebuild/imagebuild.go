package imagebuild

import (
	"errors"
	"fmt"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it runs.
const (
	// BinaryPath is where the drill binary lives in the image.
	BinaryPath = "/usr/local/bin/drill"
	// CACertsPath is where the CA bundle lives: the path Debian's
	// ca-certificates package installs it at, and the first one Go's
	// crypto/x509 reads on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// UID is the image user's user and group id (distroless's "nonroot").
	UID = 65532
	// User is the image config's user: numeric, so Kubernetes can check
	// runAsNonRoot without reading /etc/passwd.
	User = "65532:65532"
	// Source is the image's org.opencontainers.image.source.
	Source = "https://github.com/firedrill/firedrill"
)

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// Binary is a static drill binary built for one platform.
type Binary struct {
	// Platform is the binary's platform; only linux is accepted.
	Platform v1.Platform
	// Path is the binary's path on this machine.
	Path string
}

// Options describe an image.
type Options struct {
	// Binaries are the static drill binaries, one per platform. One binary
	// makes an image; several make an image index over one image each.
	// Required.
	Binaries []Binary
	// CACerts is the path of the PEM bundle installed at CACertsPath:
	// Debian's ca-certificates package's /etc/ssl/certs/ca-certificates.crt.
	// Required.
	CACerts string
	// Version is the image's org.opencontainers.image.version. Required.
	Version string
	// Revision is the commit the binaries were built from
	// (org.opencontainers.image.revision). Required.
	Revision string
	// Created is the image's creation time and the modification time of
	// every file in it, truncated to the second. The zero value means the
	// Unix epoch.
	Created time.Time
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Binaries) == 0 {
		errs = append(errs, errors.New("at least one binary is required"))
	}
	seen := map[string]bool{}
	for _, b := range o.Binaries {
		p := b.Platform.String()
		switch {
		case b.Path == "":
			errs = append(errs, fmt.Errorf("binary for %s: a path is required", p))
		case b.Platform.OS != "linux" || b.Platform.Architecture == "":
			errs = append(errs, fmt.Errorf("binary %s: platform %q is not linux/<arch>", b.Path, p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("binary %s: platform %s given twice", b.Path, p))
		}
		seen[p] = true
	}
	if o.CACerts == "" {
		errs = append(errs, errors.New("a CA bundle is required"))
	}
	if o.Version == "" {
		errs = append(errs, errors.New("a version is required"))
	}
	if o.Revision == "" {
		errs = append(errs, errors.New("a revision is required"))
	}
	return errors.Join(errs...)
}

// created returns Created normalised: UTC, whole seconds, the epoch for zero.
func (o *Options) created() time.Time {
	if o.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Created.UTC().Truncate(time.Second)
}

// labels returns the OCI labels (and manifest annotations) of the image.
func (o *Options) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "firedrill",
		"org.opencontainers.image.description": "Disaster-recovery drills for AI inference services: drill run and drill serve",
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.created":     o.created().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// Artifact is a built or pulled image: one image, or an index over one
// image per platform.
type Artifact struct {
	// Images hold one image per platform, in the order of Options.Binaries.
	Images []v1.Image
	// Index is the image index over Images when there are several; nil for
	// a single image.
	Index v1.ImageIndex
}

// Digest returns the digest of what is pushed and tagged: the index, or the
// only image.
func (a Artifact) Digest() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	if len(a.Images) != 1 {
		return v1.Hash{}, fmt.Errorf("artifact has %d images and no index", len(a.Images))
	}
	return a.Images[0].Digest()
}

// Build assembles the image (or the index) described by opts. It reads the
// binaries and the CA bundle and keeps the layers in memory.
func Build(opts Options) (Artifact, error) {
	if err := opts.validate(); err != nil {
		return Artifact{}, fmt.Errorf("invalid image options: %w", err)
	}
	created := opts.created()
	certs, err := os.ReadFile(opts.CACerts)
	if err != nil {
		return Artifact{}, fmt.Errorf("reading the CA bundle (Debian: apt-get install ca-certificates): %w", err)
	}
	if len(certs) == 0 {
		return Artifact{}, fmt.Errorf("CA bundle %s is empty", opts.CACerts)
	}
	base, err := layer(baseEntries(certs), created)
	if err != nil {
		return Artifact{}, fmt.Errorf("building the base layer: %w", err)
	}
	var a Artifact
	for _, b := range opts.Binaries {
		img, err := buildImage(opts, b, base)
		if err != nil {
			return Artifact{}, fmt.Errorf("building the %s image: %w", b.Platform.String(), err)
		}
		a.Images = append(a.Images, img)
	}
	if len(a.Images) > 1 {
		adds := make([]mutate.IndexAddendum, 0, len(a.Images))
		for i, img := range a.Images {
			p := opts.Binaries[i].Platform
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		}
		idx, ok := mutate.Annotations(mutate.AppendManifests(empty.Index, adds...), opts.labels()).(v1.ImageIndex)
		if !ok {
			return Artifact{}, errors.New("annotating the index did not give an index")
		}
		a.Index = idx
	}
	return a, nil
}

// baseEntries are the base layer: the directories, users and CA bundle a
// static Go binary needs, and nothing else.
func baseEntries(certs []byte) []entry {
	return []entry{
		dir("/etc", 0o755, 0),
		file("/etc/group", 0o644, []byte(group)),
		file("/etc/passwd", 0o644, []byte(passwd)),
		dir("/etc/ssl", 0o755, 0),
		dir("/etc/ssl/certs", 0o755, 0),
		file(CACertsPath, 0o644, certs),
		dir("/home", 0o755, 0),
		dir("/home/nonroot", 0o700, UID),
		// A root filesystem mounted read-write still has a usable /tmp; the
		// chart mounts an emptyDir over it on a read-only root.
		dir("/tmp", 0o1777, 0),
	}
}

func buildImage(opts Options, b Binary, base v1.Layer) (v1.Image, error) {
	created := opts.created()
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("reading the drill binary: %w", err)
	}
	app, err := layer(append(parents(BinaryPath), file(BinaryPath, 0o755, bin)), created)
	if err != nil {
		return nil, fmt.Errorf("building the binary layer: %w", err)
	}
	cfg := &v1.ConfigFile{
		Architecture: b.Platform.Architecture,
		OS:           b.Platform.OS,
		Variant:      b.Platform.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{BinaryPath},
			Cmd:        []string{"serve"},
			WorkingDir: "/",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			Labels:     opts.labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the image config: %w", err)
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: users, CA bundle (" + CACertsPath + ")"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: drill binary (" + BinaryPath + ")"}},
	)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	annotated, ok := mutate.Annotations(img, opts.labels()).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the image did not give an image")
	}
	return annotated, nil
}
