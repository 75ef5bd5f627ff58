package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// pullOptions are the flags of `recommender pull`.
type pullOptions struct {
	registryFlags
	ref    string
	out    string
	output outputFlags
}

func (o *pullOptions) validate() error {
	var errs []error
	if o.ref == "" {
		errs = append(errs, errors.New("--ref is required"))
	} else if _, err := store.ParseReference(o.ref); err != nil {
		errs = append(errs, err)
	}
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	return errors.Join(append(errs, o.output.validate())...)
}

// NewPullCommand returns `recommender pull`, which downloads a model artifact
// by tag or digest into a new directory.
func NewPullCommand() *cobra.Command {
	o := &pullOptions{}
	cmd := &cobra.Command{
		Use:   "pull --ref HOST:PORT/REPO:TAG|@DIGEST --out DIR",
		Short: "Pull a model artifact from an OCI registry",
		Long: `Download the artifact --ref points to (a tag or a digest) into --out, which
must not exist. Every blob is verified against its digest; the directory
appears only once it is complete.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.resolve(cmd)
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.output.add(f)
	f.StringVar(&o.ref, "ref", "", "source reference, e.g. 127.0.0.1:5000/recommender:prod or ...@sha256:...")
	f.StringVar(&o.out, "out", "", "directory to create")
	o.add(cmd)
	return cmd
}

func (o *pullOptions) run(ctx context.Context, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	s, err := store.New(o.storeOptions(ctx, ""))
	if err != nil {
		return err
	}
	a, err := s.PullTo(ctx, o.ref, o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.output.text(stdout), "pulled %s version %s digest %s to %s\n", o.ref, a.Version, a.Digest, a.Dir)
	return o.output.write(stdout, pushResult{Ref: o.ref, Version: a.Version, Digest: a.Digest.String(), Dir: a.Dir})
}
