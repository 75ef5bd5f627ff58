package cleanup

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	enginecleanup "github.com/firedrill/firedrill/pkg/engine/cleanup"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// Options are the flags of drill cleanup.
type Options struct {
	StateDir  string
	Platforms platforms.Options
	DryRun    bool
	Output    output.Format
	Out       io.Writer
	// FromCluster reverts, with no journal, the marks of dead runs on the
	// cluster of Platforms (--from-cluster).
	FromCluster bool
	// Grace is how old a heartbeat may be before its run is taken for dead
	// (--from-cluster only); zero means kube.DefaultHeartbeatGrace.
	Grace time.Duration
	// Namespaces are where --from-cluster looks for marks; empty means
	// every namespace.
	Namespaces []string
}

func (o *Options) validate(flags *pflag.FlagSet) error {
	if !o.FromCluster {
		for _, name := range []string{"grace", "namespace"} {
			if flags.Changed(name) {
				return fmt.Errorf("--%s applies to --from-cluster only", name)
			}
		}
		return nil
	}
	if o.Grace != 0 && o.Grace < kube.MinHeartbeatGrace {
		return fmt.Errorf("--grace %s is shorter than %s: a live run, which renews its heartbeat every %s, would be taken for dead",
			o.Grace, kube.MinHeartbeatGrace, kube.DefaultHeartbeatInterval)
	}
	return nil
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

Before it reverts anything of a dead run it kills the runbook commands the
run left running. A fault of a cluster this cleanup is not pointed at (its
API server and CA, not the context's name, identify it) is left as it is
and listed with the command that reverts it.

With --from-cluster no journal is read: every object on the cluster (of
--context) that carries a run's marks is judged by that run's heartbeat, a
Lease the run renews every 5s while it lives. Marks whose run's heartbeat
is older than --grace (default 15s), or missing, are reverted from the
marks themselves; a live run's are listed and left alone. --namespace
limits the namespaces looked in (nodes are always looked at).

With -o json or -o yaml the result is one document: dryRun, fromCluster
(server, context, grace, namespaces), leftovers (run, plan, step, type,
targets, state Reverted, WouldBeReverted, NotReverted, Elsewhere or Live,
error, hint, heartbeat, stopped) and error.

Exit status: 0 when nothing is left active, 1 when a fault could not be
reverted or belongs to another cluster. With --from-cluster a live run's
faults do not count: their run reverts them.`,
		Example: `  # Revert whatever a killed drill left behind
  drill cleanup

  # Only list it, for a program
  drill cleanup --dry-run -o json

  # The machine that ran the drill is lost: revert what dead runs left on
  # the cluster, judged by their heartbeats
  drill cleanup --from-cluster --context prod-us --dry-run
  drill cleanup --from-cluster --context prod-us`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			opts := Options{
				StateDir: v.GetString("state-dir"), Platforms: platforms.FromViper(v), DryRun: v.GetBool("dry-run"),
				Output: format, Out: c.OutOrStdout(),
				FromCluster: v.GetBool("from-cluster"), Grace: v.GetDuration("grace"), Namespaces: v.GetStringSlice("namespace"),
			}
			if err := opts.validate(c.Flags()); err != nil {
				return err
			}
			if opts.FromCluster {
				return fromCluster(c.Context(), opts)
			}
			return run(c.Context(), opts)
		},
	}
	cmd.Flags().Bool("dry-run", false, "list leftover faults without reverting them")
	cmd.Flags().Bool("from-cluster", false, "read no journal: revert the marks of every run on the cluster whose heartbeat is older than --grace")
	cmd.Flags().Duration("grace", kube.DefaultHeartbeatGrace, "with --from-cluster, how old a run's heartbeat may be before the run is taken for dead")
	cmd.Flags().StringSlice("namespace", nil, "with --from-cluster, a namespace to look for marks in (repeatable; default every namespace)")
	output.AddFlag(cmd.Flags())
	platforms.AddFlags(cmd.Flags())
	return cmd
}

// Result is the document drill cleanup prints with -o json or yaml.
type Result struct {
	// DryRun is true when nothing was reverted (--dry-run).
	DryRun bool `json:"dryRun"`
	// FromCluster says, with --from-cluster, which cluster was looked at
	// and how runs were judged.
	FromCluster *FromCluster `json:"fromCluster,omitempty"`
	// Leftovers are the faults that dead runs left active, in journal
	// order; empty when there are none.
	Leftovers []Leftover `json:"leftovers"`
	// Error says why some faults are still active; empty when none is.
	Error string `json:"error,omitempty"`
}

// The states of a leftover.
const (
	// StateReverted: cleanup reverted the fault.
	StateReverted = "Reverted"
	// StateWouldBeReverted: --dry-run; cleanup would revert it.
	StateWouldBeReverted = "WouldBeReverted"
	// StateNotReverted: reverting failed; Error says why.
	StateNotReverted = "NotReverted"
	// StateElsewhere: the fault belongs to a cluster this cleanup is not
	// pointed at; Hint says how to revert it.
	StateElsewhere = "Elsewhere"
	// StateLive: --from-cluster found the marks of a run whose heartbeat is
	// live, and left them alone.
	StateLive = "Live"
)

// Leftover is a fault a dead run left active.
type Leftover struct {
	// Run is the run's id; Plan its plan's name (unknown, and omitted,
	// with --from-cluster).
	Run  string `json:"run"`
	Plan string `json:"plan,omitempty"`
	// Step is the fault's step; Type its fault type (unknown, and
	// omitted, with --from-cluster: Targets say what the marks are on).
	Step string `json:"step"`
	Type string `json:"type,omitempty"`
	// Targets the fault acts on.
	Targets []evidence.Target `json:"targets"`
	// State is Reverted, WouldBeReverted, NotReverted, Elsewhere or
	// Live.
	State string `json:"state"`
	// Error is why it was not reverted.
	Error string `json:"error,omitempty"`
	// Hint is the command that reverts a fault of another cluster.
	Hint string `json:"hint,omitempty"`
	// Heartbeat is, with --from-cluster, the run's heartbeat as judged.
	Heartbeat string `json:"heartbeat,omitempty"`
	// Stopped are the runbook commands of the dead run killed first.
	Stopped []string `json:"stopped,omitempty"`
}

func run(ctx context.Context, opts Options) error {
	leftovers, err := enginecleanup.Run(ctx, enginecleanup.Options{
		JournalDir: platforms.JournalDir(opts.StateDir),
		DryRun:     opts.DryRun,
		Platforms: func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error) {
			return platforms.New(ctx, spec, opts.Platforms)
		},
	})
	res := Result{DryRun: opts.DryRun, Leftovers: make([]Leftover, 0, len(leftovers))}
	for _, l := range leftovers {
		res.Leftovers = append(res.Leftovers, convert(l))
	}
	elsewhere := 0
	for _, l := range leftovers {
		if l.Elsewhere {
			elsewhere++
		}
	}
	if err != nil {
		res.Error = err.Error()
	}
	if werr := output.Write(opts.Out, opts.Output, res, func(w io.Writer) error {
		for _, l := range leftovers {
			fmt.Fprintln(w, l.String())
		}
		switch {
		case err != nil:
			fmt.Fprintln(w, "some faults are still active: "+err.Error())
		case elsewhere > 0:
			fmt.Fprintf(w, "%d fault(s) of other clusters are still active; revert them with the commands above\n", elsewhere)
		case len(leftovers) == 0:
			fmt.Fprintln(w, "no faults left active by earlier runs")
		}
		return nil
	}); werr != nil {
		return werr
	}
	if err != nil || elsewhere > 0 {
		if opts.Output.Machine() {
			// The document says it; the log tells whoever watches stderr.
			log.FromContext(ctx).Error("some faults are still active", "err", err)
		}
		return &exitcode.Error{Code: 1}
	}
	return nil
}

func convert(l enginecleanup.Leftover) Leftover {
	out := Leftover{Run: l.RunID, Plan: l.Plan, Step: l.Fault, Type: l.Type, Targets: l.Targets, Error: l.Error, Hint: l.Hint, Stopped: l.Stopped}
	switch {
	case l.Elsewhere:
		out.State = StateElsewhere
	case l.Error != "":
		out.State = StateNotReverted
	case l.Reverted:
		out.State = StateReverted
	default:
		out.State = StateWouldBeReverted
	}
	if out.Targets == nil {
		out.Targets = []evidence.Target{}
	}
	return out
}
