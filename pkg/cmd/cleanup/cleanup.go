package cleanup

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Options are the flags of drill cleanup.
type Options struct {
	StateDir  string
	Platforms platforms.Options
	DryRun    bool
	Out       io.Writer
}

// NewCommand returns the cleanup command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Revert faults that crashed runs left active",
		Long: `Find, in the run journals, every fault that a run injected but never
reverted because its drill process died (kill -9, a crash, a lost machine),
and revert it. Runs whose process is still alive are left alone. drill run
does the same before it starts.

Exit status: 0 when nothing is left active, 1 when a fault could not be
reverted.`,
		Example: `  # Revert whatever a killed drill left behind
  drill cleanup

  # Only list it
  drill cleanup --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return run(c.Context(), Options{StateDir: v.GetString("state-dir"), Platforms: platforms.FromViper(v), DryRun: v.GetBool("dry-run"), Out: c.OutOrStdout()})
		},
	}
	cmd.Flags().Bool("dry-run", false, "list leftover faults without reverting them")
	platforms.AddFlags(cmd.Flags())
	return cmd
}

func run(ctx context.Context, opts Options) error {
	leftovers, err := engine.Cleanup(ctx, engine.CleanupOptions{
		JournalDir: platforms.JournalDir(opts.StateDir),
		DryRun:     opts.DryRun,
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			return platforms.New(ctx, spec, opts.Platforms)
		},
	})
	for _, l := range leftovers {
		fmt.Fprintln(opts.Out, l.String())
	}
	if len(leftovers) == 0 {
		fmt.Fprintln(opts.Out, "no faults left active by earlier runs")
	}
	if err != nil {
		fmt.Fprintln(opts.Out, "some faults are still active: "+err.Error())
		return &exitcode.Error{Code: 1}
	}
	return nil
}
