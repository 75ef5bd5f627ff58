package trigger

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

// abortWait bounds how long drill trigger follows a run it asked to abort
// after Ctrl-C.
const abortWait = 3 * time.Minute

// Options are the flags of drill trigger.
type Options struct {
	follow.Command
	Plan string
	// RequestedBy names who triggers, for the run's annotation.
	RequestedBy string
}

// NewCommand returns the trigger command.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger PLAN",
		Short: "Run a stored DrillPlan now through drill serve in a cluster",
		Long: `Create a DrillRun of the DrillPlan PLAN (trigger manual, with the plan's
hash), which drill serve's leader runs, and follow it: progress on stderr as
drill run shows it (from the run's status, which drill serve writes at most
every 2 s and at every step and fault milestone), then the result on stdout.

A plan with an active run is refused unless its concurrencyPolicy is Allow:
wait for the run or stop it with drill abort. Ctrl-C asks drill serve to
abort the run (every active fault is reverted) and follows it to its end;
--wait=false only creates the run and prints its name.

With -o json or -o yaml the result is the report as the run's status holds
it (the archived report.json, with the SLI series and events, is on drill
serve's report volume and served by its API).

Exit status: 0 when every objective held, 1 when one failed, 2 when the run
was aborted, interrupted or could not run, or the trigger was refused.`,
		Example: `  # Drill now, in namespace recsys, and wait for the verdict
  drill trigger -n recsys gpu-inference-quarterly

  # Start it and return at once
  drill trigger -n recsys --wait=false gpu-inference-quarterly`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			common, err := follow.CommandFromViper(v, c.OutOrStdout(), c.ErrOrStderr())
			if err != nil {
				return err
			}
			who := "drill trigger"
			if u, err := user.Current(); err == nil {
				who += " (" + u.Username + ")"
			}
			return run(c.Context(), Options{Command: common, Plan: args[0], RequestedBy: who})
		},
	}
	follow.AddCommandFlags(cmd.Flags(), "follow the run to its end; false only creates it")
	return cmd
}

func run(ctx context.Context, opts Options) error {
	c, ns, err := opts.Dial()
	if err != nil {
		return err
	}
	var p v1alpha1.DrillPlan
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: opts.Plan}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("plan %s not found in namespace %s", opts.Plan, ns)
		}
		return fmt.Errorf("reading plan %s/%s: %w", ns, opts.Plan, err)
	}
	var list v1alpha1.DrillRunList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing the runs in %s: %w", ns, err)
	}
	var mine []v1alpha1.DrillRun
	for _, r := range list.Items {
		if r.Spec.PlanRef != nil && r.Spec.PlanRef.Name == p.Name {
			mine = append(mine, r)
		}
	}
	if err := runs.RefuseConcurrent(&p, mine); err != nil {
		fmt.Fprintln(opts.Err, err)
		return &exitcode.Error{Code: 2}
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	dr, err := runs.ForPlan(&p, runs.Options{Trigger: v1alpha1.TriggerManual, RequestedBy: opts.RequestedBy}, scheme)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, dr); err != nil {
		return fmt.Errorf("creating a run of plan %s/%s: %w", ns, p.Name, err)
	}
	key := types.NamespacedName{Namespace: ns, Name: dr.Name}
	if !opts.Wait {
		fmt.Fprintln(opts.Out, "drillrun/"+dr.Name)
		return nil
	}
	fmt.Fprintf(opts.Err, "created run %s of plan %s; drill serve runs it (Ctrl-C aborts it)\n", key, p.Name)
	fo := opts.Follow(c, key)
	got, err := follow.Run(ctx, fo)
	if errors.Is(err, follow.ErrStopped) {
		// Ctrl-C: as drill run, stop the drill and revert its faults.
		fmt.Fprintf(opts.Err, "interrupted: asking drill serve to abort run %s and revert its faults\n", key)
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortWait)
		defer cancel()
		if _, err := runs.RequestAbort(actx, c, key, "drill trigger was interrupted"); err != nil {
			return err
		}
		if got, err = follow.Run(actx, fo); err != nil {
			return fmt.Errorf("following run %s after asking it to abort (drill abort %s -n %s follows it again): %w", key, key.Name, ns, err)
		}
	} else if err != nil {
		return err
	}
	return follow.Result(opts.Out, opts.Output, got)
}
