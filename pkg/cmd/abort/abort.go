package abort

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/log"
)

// Options are the flags of drill abort.
type Options struct {
	Run         string
	Reason      string
	Cluster     follow.Cluster
	Wait        bool
	Output      output.Format
	LogProgress bool
	Out, Err    io.Writer
	// Connect reaches the cluster; nil means follow.Connect.
	Connect func(follow.Cluster) (client.Client, string, error)
	// Poll is how often the run is read; zero means follow.DefaultPoll.
	Poll time.Duration
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
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			return run(c.Context(), Options{
				Run: args[0], Reason: v.GetString("reason"), Cluster: follow.FromViper(v), Wait: v.GetBool("wait"), Output: format,
				LogProgress: v.GetString("log-format") == string(log.FormatJSON), Out: c.OutOrStdout(), Err: c.ErrOrStderr(),
			})
		},
	}
	f := cmd.Flags()
	follow.AddFlags(f)
	f.String("reason", "", "why, for the run's message")
	f.Bool("wait", true, "follow the run until its faults are reverted and it ended")
	output.AddFlag(f)
	return cmd
}

func run(ctx context.Context, opts Options) error {
	connect := opts.Connect
	if connect == nil {
		connect = follow.Connect
	}
	c, ns, err := connect(opts.Cluster)
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
	got, err := follow.Run(ctx, follow.Options{Client: c, Key: key, Out: opts.Out, Err: opts.Err, Output: opts.Output, LogProgress: opts.LogProgress, Poll: opts.Poll})
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
