package frontdoor

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// commandOptions are the flags of `drill frontdoor`.
type commandOptions struct {
	addr, controlAddr, primary string
	healthInterval             time.Duration
}

// NewCommand returns the hidden `frontdoor` command the sandbox runs as a
// process.
func NewCommand() *cobra.Command {
	o := &commandOptions{}
	cmd := &cobra.Command{
		Use:    "frontdoor",
		Short:  "Run the local sandbox's front door (started by the sandbox)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCommand(c.Context(), o, c.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:0", "traffic listen address (loopback only)")
	f.StringVar(&o.controlAddr, "control-addr", "127.0.0.1:0", "control API listen address (loopback only)")
	f.StringVar(&o.primary, "primary", "", "preferred region (default: the first region set)")
	f.DurationVar(&o.healthInterval, "health-interval", 200*time.Millisecond, "how often every backend's /readyz is checked")
	return cmd
}

func runCommand(ctx context.Context, o *commandOptions, w io.Writer) error {
	s, err := New(Options{Addr: o.addr, ControlAddr: o.controlAddr, Primary: o.primary, HealthInterval: o.healthInterval})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "control on %s\n", s.ControlAddr())
	fmt.Fprintf(w, "listening on %s\n", s.Addr())
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return s.Stop(stopCtx)
}
