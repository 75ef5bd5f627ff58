package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// registryFlags are the flags shared by the commands that talk to a
// registry.
type registryFlags struct {
	plainHTTP    bool
	plainHTTPSet bool
}

func (r *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.plainHTTP, "plain-http", true,
		"talk to the registry over plain HTTP; when unset, plain HTTP for loopback registries and HTTPS otherwise")
}

// resolve records whether --plain-http was given explicitly.
func (r *registryFlags) resolve(cmd *cobra.Command) {
	r.plainHTTPSet = cmd.Flags().Changed("plain-http")
}

func (r *registryFlags) storeOptions(ctx context.Context, cacheDir string) store.Options {
	o := store.Options{CacheDir: cacheDir, Logger: log.FromContext(ctx)}
	if r.plainHTTPSet {
		v := r.plainHTTP
		o.PlainHTTP = &v
	}
	return o
}

// pushOptions are the flags of `recommender push`.
type pushOptions struct {
	registryFlags
	model  string
	ref    string
	output outputFlags
}

// pushResult is the machine-readable result of `recommender push`; pull
// adds the directory it wrote.
type pushResult struct {
	// Ref is the reference pushed or pulled.
	Ref string `json:"ref"`
	// Version is the model version, Digest the manifest digest.
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Dir is where pull wrote the artifact.
	Dir string `json:"dir,omitempty"`
}

func (o *pushOptions) validate() error {
	var errs []error
	if o.model == "" {
		errs = append(errs, errors.New("--model is required"))
	}
	if o.ref == "" {
		errs = append(errs, errors.New("--ref is required"))
	} else if r, err := store.ParseReference(o.ref); err != nil {
		errs = append(errs, err)
	} else if r.IsDigest() {
		errs = append(errs, errors.New("--ref must carry a tag, not a digest"))
	}
	return errors.Join(append(errs, o.output.validate())...)
}

// NewPushCommand returns `recommender push`, which uploads a model artifact
// directory to an OCI registry under a tag.
func NewPushCommand() *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push --model DIR --ref HOST:PORT/REPO:TAG",
		Short: "Push a model artifact to an OCI registry",
		Long: `Verify the model artifact in --model (it must load), then push it to --ref:
one layer per file, the model metadata as the config blob and as manifest
annotations. Blobs the registry already has are skipped. Prints the
reference and the manifest digest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.resolve(cmd)
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.output.add(f)
	f.StringVar(&o.model, "model", "", "model artifact directory (written by recommender train)")
	f.StringVar(&o.ref, "ref", "", "target reference, e.g. 127.0.0.1:5000/recommender:prod")
	o.add(cmd)
	return cmd
}

func (o *pushOptions) run(ctx context.Context, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	m, err := model.Load(o.model)
	if err != nil {
		return fmt.Errorf("refusing to push %s: %w", o.model, err)
	}
	md := m.Metadata()
	_ = m.Close()
	cfg, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("encoding metadata: %w", err)
	}
	s, err := store.New(o.storeOptions(ctx, ""))
	if err != nil {
		return err
	}
	desc, err := s.Push(ctx, o.ref, o.model, store.PushOptions{
		Version: md.Version, Created: md.CreatedAt, DataHash: md.DataHash, Config: cfg,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.output.text(stdout), "pushed %s version %s digest %s\n", o.ref, md.Version, desc.Digest)
	return o.output.write(stdout, pushResult{Ref: o.ref, Version: md.Version, Digest: desc.Digest.String()})
}
