// Command image builds firedrill's container image without a Docker daemon:
// `make image` runs it over the static drill binaries it builds
// (docs/install.md#the-image). It writes an OCI image layout, pushes with
// --push, and with --verify builds twice (the digests must match), pushes to
// a loopback registry (an embedded one unless --push names one), pulls the
// image back and checks everything in it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	opts, err := parseFlags(os.Args[1:], os.Stderr, os.Getenv("SOURCE_DATE_EPOCH"))
	if err == nil {
		err = run(ctx, opts, os.Stdout)
	}
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(1)
	}
}

// parseFlags parses the command line; sourceDateEpoch is $SOURCE_DATE_EPOCH.
func parseFlags(args []string, stderr io.Writer, sourceDateEpoch string) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.binaries, "binary", "`PLATFORM=PATH` of a static drill binary, e.g. linux/amd64=bin/drill (repeat for an index over several platforms)")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to install (Debian's ca-certificates package)")
	fs.StringVar(&o.version, "version", "", "image version label (required)")
	fs.StringVar(&o.revision, "revision", "", "commit the binaries were built from (required)")
	fs.StringVar(&o.created, "created", "", "creation time of the image and of every file in it, RFC 3339 (default $SOURCE_DATE_EPOCH, else the Unix epoch)")
	fs.StringVar(&o.layout, "layout", "", "write the image as an OCI image layout into this directory")
	fs.StringVar(&o.push, "push", "", "push the image to this `reference` (plain HTTP for a loopback registry)")
	fs.BoolVar(&o.verify, "verify", false, "build twice and compare digests, push (to --push or an embedded loopback registry), pull back and check the image")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.sourceDateEpoch = sourceDateEpoch
	return o, nil
}
