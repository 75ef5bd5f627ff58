package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/store/ociregistry"
)

// modelstoreOptions are the flags of `recommender modelstore`.
type modelstoreOptions struct {
	addr        string
	allowRemote bool
	root        string
	stopTimeout time.Duration
}

func (o *modelstoreOptions) validate() error {
	if o.root == "" {
		return errors.New("--root is required")
	}
	return nil
}

// NewModelstoreCommand returns `recommender modelstore`, which runs an OCI
// registry with filesystem storage until SIGINT or SIGTERM.
func NewModelstoreCommand() *cobra.Command {
	o := &modelstoreOptions{}
	cmd := &cobra.Command{
		Use:   "modelstore --root DIR [--addr 127.0.0.1:5000]",
		Short: "Run the OCI model store (a distribution registry on local disk)",
		Long: `Run an OCI registry (CNCF distribution) that stores blobs under --root and
listens on a loopback address (or, with --allow-remote, any) without
authentication. It prints
"listening on HOST:PORT" once it accepts connections (useful with port 0)
and stops on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:5000", "listen address (loopback only unless --allow-remote; port 0 picks a free port)")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "listen beyond loopback, e.g. on a pod's IP (the registry has no authentication: keep it behind the pod network or a NetworkPolicy)")
	f.StringVar(&o.root, "root", "", "storage directory (created if missing)")
	f.DurationVar(&o.stopTimeout, "stop-timeout", 10*time.Second, "how long to let in-flight requests finish on shutdown")
	return cmd
}

func (o *modelstoreOptions) run(ctx context.Context, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	srv, err := ociregistry.New(ociregistry.Options{Addr: o.addr, AllowRemote: o.allowRemote, Root: o.root, Logger: log.FromContext(ctx)})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "listening on %s\n", srv.Addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.stopTimeout)
	defer cancel()
	return srv.Stop(stopCtx)
}
