package cleanup

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Options are the flags of drill cleanup.
type Options struct {
	StateDir  string
	Platforms platforms.Options
	DryRun    bool
	Output    output.Format
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

With -o json or -o yaml the result is one document: dryRun, leftovers (run,
plan, step, type, targets, state Reverted, WouldBeReverted or NotReverted,
error) and error.

Exit status: 0 when nothing is left active, 1 when a fault could not be
reverted.`,
		Example: `  # Revert whatever a killed drill left behind
  drill cleanup

  # Only list it, for a program
  drill cleanup --dry-run -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			format, err := output.Parse(v.GetString("output"))
			if err != nil {
				return err
			}
			return run(c.Context(), Options{
				StateDir: v.GetString("state-dir"), Platforms: platforms.FromViper(v), DryRun: v.GetBool("dry-run"),
				Output: format, Out: c.OutOrStdout(),
			})
		},
	}
	cmd.Flags().Bool("dry-run", false, "list leftover faults without reverting them")
	output.AddFlag(cmd.Flags())
	platforms.AddFlags(cmd.Flags())
	return cmd
}

// Result is the document drill cleanup prints with -o json or yaml.
type Result struct {
	// DryRun is true when nothing was reverted (--dry-run).
	DryRun bool `json:"dryRun"`
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
)

// Leftover is a fault a dead run left active.
type Leftover struct {
	// Run is the run's id; Plan its plan's name.
	Run  string `json:"run"`
	Plan string `json:"plan"`
	// Step is the fault's step; Type its fault type.
	Step string `json:"step"`
	Type string `json:"type"`
	// Targets the fault acts on.
	Targets []evidence.Target `json:"targets"`
	// State is Reverted, WouldBeReverted or NotReverted.
	State string `json:"state"`
	// Error is why it was not reverted.
	Error string `json:"error,omitempty"`
}

func run(ctx context.Context, opts Options) error {
	leftovers, err := engine.Cleanup(ctx, engine.CleanupOptions{
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
		case len(leftovers) == 0:
			fmt.Fprintln(w, "no faults left active by earlier runs")
		}
		return nil
	}); werr != nil {
		return werr
	}
	if err != nil {
		if opts.Output.Machine() {
			// The document says it; the log tells whoever watches stderr.
			log.FromContext(ctx).Error("some faults are still active", "err", err)
		}
		return &exitcode.Error{Code: 1}
	}
	return nil
}

func convert(l engine.Leftover) Leftover {
	out := Leftover{Run: l.RunID, Plan: l.Plan, Step: l.Fault, Type: l.Type, Targets: l.Targets, Error: l.Error}
	switch {
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
