package imagebuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/firedrill/firedrill/pkg/loopback"
)

// refNameAnnotation names an image in an OCI image layout's index.json
// (oci:DIR:NAME for skopeo, crane and others).
const refNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes a as an OCI image layout into dir, replacing what was
// there, named refName in the layout's index.json. The layout is written
// into a sibling directory first, so a failed write leaves the old one.
func WriteLayout(dir string, a Artifact, refName string) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary layout directory: %w", err)
	}
	// After the rename below there is nothing left to remove.
	defer func() { _ = os.RemoveAll(tmp) }()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	ann := layout.WithAnnotations(map[string]string{refNameAnnotation: refName})
	switch {
	case a.Index != nil:
		err = p.AppendIndex(a.Index, ann)
	case len(a.Images) == 1:
		var cfg *v1.ConfigFile
		if cfg, err = a.Images[0].ConfigFile(); err == nil {
			err = p.AppendImage(a.Images[0], ann, layout.WithPlatform(*cfg.Platform()))
		}
	default:
		err = fmt.Errorf("artifact has %d images and no index", len(a.Images))
	}
	if err != nil {
		return fmt.Errorf("writing the image into the OCI layout: %w", err)
	}
	// Make the layout readable like any build output (MkdirTemp gives 0700).
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("opening up %s: %w", tmp, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the old layout: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving the layout into place: %w", err)
	}
	return nil
}

// ParseReference parses an image reference. A registry on a loopback
// address is spoken to over plain HTTP; any other over HTTPS.
func ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	if !loopback.Host(ref.Context().RegistryStr()) {
		return ref, nil
	}
	ref, err = name.ParseReference(s, name.StrictValidation, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	return ref, nil
}

// Push uploads a to ref: the index with its images, or the only image.
// Credentials come from the Docker config (~/.docker/config.json) as for
// docker and crane.
func Push(ctx context.Context, ref name.Reference, a Artifact) error {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	var err error
	switch {
	case a.Index != nil:
		err = remote.WriteIndex(ref, a.Index, opts...)
	case len(a.Images) == 1:
		err = remote.Write(ref, a.Images[0], opts...)
	default:
		err = fmt.Errorf("artifact has %d images and no index", len(a.Images))
	}
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// Pull reads the image or index at ref, in the shape Build returns:
// an index's images in the order it lists them.
func Pull(ctx context.Context, ref name.Reference) (Artifact, error) {
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return Artifact{}, fmt.Errorf("reading image %s: %w", ref, err)
		}
		return Artifact{Images: []v1.Image{img}}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return Artifact{}, fmt.Errorf("reading index %s: %w", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return Artifact{}, fmt.Errorf("reading index manifest %s: %w", ref, err)
	}
	a := Artifact{Index: idx}
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return Artifact{}, fmt.Errorf("reading image %s of %s: %w", d.Digest, ref, err)
		}
		a.Images = append(a.Images, img)
	}
	if len(a.Images) == 0 {
		return Artifact{}, fmt.Errorf("index %s lists no images", ref)
	}
	return a, nil
}
