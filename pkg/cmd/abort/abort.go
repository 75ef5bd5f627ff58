package abort

import (
	"context"
	"errors"
	"fmt"
	"os/user"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

// Options are the flags of drill abort.
type Options struct {
	follow.Command
	Run    string
	Reason string
}

// NewCommand returns the abort command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "abort RUN",
		Short: "Stop a DrillRun in a cluster, reverting every active fault",
		Long: `Set spec.abort on the DrillRun RUN (with --reason in its annotation
firedrill.dev/abort-reason): drill serve reverts every active fault at once
and the run ends Aborted. A run that has not started ends Aborted without
touching anything. Then follow the run to its end, as drill trigger does;
--wait=false returns once the abort is asked for.

Exit status: 0 once the run is over with nothing left in effect (Aborted,
or it finished by itself first), 1 when it ended Error (a revert may have
failed: read its message), 2 when the run does not exist or had already
finished.`,
		Example: `  # Stop a drill that is hurting the service
  drill abort -n recsys gpu-inference-quarterly-20261001-070000 --reason "p99 pages"`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			common, err := follow.CommandFromViper(v, c.OutOrStdout(), c.ErrOrStderr())
			if err != nil {
				return err
			}
			return run(c.Context(), Options{Command: common, Run: args[0], Reason: v.GetString("reason")})
		},
	}
	f := cmd.Flags()
	follow.AddCommandFlags(f, "follow the run until its faults are reverted and it ended")
	f.String("reason", "", "why, for the run's message")
	return cmd
}

func run(ctx context.Context, opts Options) error {
	c, ns, err := opts.Dial()
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: ns, Name: opts.Run}
	var dr v1alpha1.DrillRun
	if err := c.Get(ctx, key, &dr); err != nil {
		if apierrors.IsNotFound(err) {
			fmt.Fprintf(opts.Err, "run %s not found in namespace %s\n", opts.Run, ns)
			return &exitcode.Error{Code: 2}
		}
		return fmt.Errorf("reading run %s: %w", key, err)
	}
	if dr.Status.Phase.IsTerminal() {
		fmt.Fprintf(opts.Err, "run %s already finished (%s); nothing to abort\n", key, dr.Status.Phase)
		return &exitcode.Error{Code: 2}
	}
	reason := opts.Reason
	if reason == "" {
		reason = "drill abort"
	}
	if u, err := user.Current(); err == nil {
		reason += " (by " + u.Username + ")"
	}
	if _, err := runs.RequestAbort(ctx, c, key, reason); err != nil {
		return err
	}
	if !opts.Wait {
		fmt.Fprintf(opts.Out, "drillrun/%s abort requested\n", opts.Run)
		return nil
	}
	fmt.Fprintf(opts.Err, "asked drill serve to abort run %s; following it until its faults are reverted\n", key)
	got, err := follow.Run(ctx, opts.Follow(c, key))
	if errors.Is(err, follow.ErrStopped) {
		fmt.Fprintf(opts.Err, "stopped following; the abort stands and drill serve completes it\n")
		return &exitcode.Error{Code: 2}
	}
	if err != nil {
		return err
	}
	// The run's own code says how the drill went; drill abort says
	// whether the abort left anything behind.
	var ec *exitcode.Error
	if err := follow.Result(opts.Out, opts.Output, got); err != nil && !errors.As(err, &ec) {
		return err
	}
	if got.Status.Phase == v1alpha1.RunError {
		return &exitcode.Error{Code: 1}
	}
	return nil
}
