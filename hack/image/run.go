package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/firedrill/firedrill/pkg/imagebuild"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// options are the command's flags.
type options struct {
	binaries binaryFlags
	caCerts  string
	version  string
	revision string
	// created is RFC 3339; empty means sourceDateEpoch, then the epoch.
	created         string
	sourceDateEpoch string
	layout          string
	push            string
	verify          bool
}

// binaryFlags collects repeated --binary PLATFORM=PATH flags.
type binaryFlags []imagebuild.Binary

func (b *binaryFlags) String() string {
	parts := make([]string, 0, len(*b))
	for _, x := range *b {
		parts = append(parts, x.Platform.String()+"="+x.Path)
	}
	return strings.Join(parts, ",")
}

func (b *binaryFlags) Set(s string) error {
	platform, path, ok := strings.Cut(s, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q is not PLATFORM=PATH", s)
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return fmt.Errorf("platform %q: %w", platform, err)
	}
	*b = append(*b, imagebuild.Binary{Platform: *p, Path: path})
	return nil
}

// imageOptions turns the flags into imagebuild.Options.
func (o options) imageOptions() (imagebuild.Options, error) {
	bo := imagebuild.Options{Binaries: o.binaries, CACerts: o.caCerts, Version: o.version, Revision: o.revision}
	switch {
	case o.created != "":
		t, err := time.Parse(time.RFC3339, o.created)
		if err != nil {
			return imagebuild.Options{}, fmt.Errorf("--created: %w", err)
		}
		bo.Created = t
	case o.sourceDateEpoch != "":
		sec, err := strconv.ParseInt(o.sourceDateEpoch, 10, 64)
		if err != nil {
			return imagebuild.Options{}, fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		bo.Created = time.Unix(sec, 0)
	}
	return bo, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	opts, err := o.imageOptions()
	if err != nil {
		return err
	}
	start := time.Now()
	a, err := imagebuild.Build(opts)
	if err != nil {
		return err
	}
	digest, err := a.Digest()
	if err != nil {
		return fmt.Errorf("digesting the image: %w", err)
	}
	fmt.Fprintf(out, "built %s in %s\n", digest, time.Since(start).Round(time.Millisecond))
	if err := printSizes(out, a, opts); err != nil {
		return err
	}
	if o.layout != "" {
		if err := imagebuild.WriteLayout(o.layout, a, opts.Version); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote OCI image layout %s (oci:%s:%s)\n", o.layout, o.layout, opts.Version)
	}
	if o.verify {
		if err := checkReproducible(opts, digest); err != nil {
			return err
		}
		fmt.Fprintf(out, "reproducible: a second build gives %s\n", digest)
	}
	if o.push == "" && !o.verify {
		return nil
	}
	target := o.push
	if target == "" {
		addr, stop, err := startRegistry(ctx)
		if err != nil {
			return err
		}
		defer stop()
		target = addr + "/firedrill/drill:" + opts.Version
	}
	ref, err := imagebuild.ParseReference(target)
	if err != nil {
		return err
	}
	if err := imagebuild.Push(ctx, ref, a); err != nil {
		return err
	}
	fmt.Fprintf(out, "pushed %s@%s\n", ref, digest)
	if !o.verify {
		return nil
	}
	pulled, err := imagebuild.Pull(ctx, ref.Context().Digest(digest.String()))
	if err != nil {
		return err
	}
	if err := imagebuild.Verify(pulled, opts); err != nil {
		return fmt.Errorf("the image pulled back from %s is not what was built:\n%w", ref, err)
	}
	fmt.Fprintf(out, "verified %s@%s: user %s, entrypoint %s, labels, CA bundle, passwd, file list, modes, owners, timestamps\n",
		ref.Context(), digest, imagebuild.User, imagebuild.BinaryPath)
	return nil
}

// checkReproducible builds the image again and compares digests.
func checkReproducible(opts imagebuild.Options, want v1.Hash) error {
	again, err := imagebuild.Build(opts)
	if err != nil {
		return fmt.Errorf("building again: %w", err)
	}
	got, err := again.Digest()
	if err != nil {
		return fmt.Errorf("digesting the second build: %w", err)
	}
	if got != want {
		return fmt.Errorf("not reproducible: a second build gives %s, the first %s", got, want)
	}
	return nil
}

// startRegistry starts the embedded registry on loopback with storage in a
// temporary directory; stop stops it and removes the storage.
func startRegistry(ctx context.Context) (addr string, stop func(), err error) {
	root, err := os.MkdirTemp("", "firedrill-image-registry-*")
	if err != nil {
		return "", nil, fmt.Errorf("creating registry storage: %w", err)
	}
	reg, err := ociregistry.New(ociregistry.Options{Root: root, Logger: log.Discard()})
	if err == nil {
		err = reg.Start(ctx)
	}
	if err != nil {
		return "", nil, errors.Join(err, os.RemoveAll(root))
	}
	return reg.Addr(), func() {
		_ = reg.Stop(context.WithoutCancel(ctx))
		_ = os.RemoveAll(root)
	}, nil
}

// printSizes prints each image's compressed and uncompressed size.
func printSizes(out io.Writer, a imagebuild.Artifact, opts imagebuild.Options) error {
	for i, img := range a.Images {
		c, err := imagebuild.Inspect(img)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s %s: %s compressed, %s uncompressed, %d files\n",
			opts.Binaries[i].Platform.String(), c.Digest, mib(c.Compressed), mib(c.Uncompressed), len(c.Files))
	}
	return nil
}

func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
