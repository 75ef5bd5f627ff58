package cleanup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
)

// PlatformFactory builds the platform a journaled run used, so cleanup can
// revert its faults.
type PlatformFactory func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error)

// ActionRunner runs runbook actions (*action.Runner).
type ActionRunner interface {
	// Run runs a with the extra environment variables.
	Run(ctx context.Context, a *v1alpha1.Action, extra map[string]string) (action.Result, error)
}

// Options configure Run.
type Options struct {
	// JournalDir holds the run journals. Required.
	JournalDir string
	// Platforms builds platforms for journaled runs. Required unless every
	// leftover fault is an exec fault.
	Platforms PlatformFactory
	// Actions runs exec reverts; nil means a default Runner.
	Actions ActionRunner
	// Clock stamps the journal; nil means the real clock.
	Clock clock.PassiveClock
	// DryRun lists what would be reverted without reverting.
	DryRun bool
}

// Leftover is a fault a dead run left in effect.
type Leftover struct {
	RunID   string            `json:"runID"`
	Plan    string            `json:"plan"`
	Fault   string            `json:"fault"`
	Type    string            `json:"type"`
	Targets []evidence.Target `json:"targets"`
	// Reverted is true once cleanup reverted it; Error says why not.
	Reverted bool   `json:"reverted"`
	Error    string `json:"error,omitempty"`
	// Elsewhere is set when the fault belongs to a cluster this cleanup is
	// not pointed at: it is left as it is, never marked done, and Hint says
	// how to revert it.
	Elsewhere bool   `json:"elsewhere,omitempty"`
	Hint      string `json:"hint,omitempty"`
	// Stopped lists the runbook commands of the dead run that were still
	// running and were killed before anything was reverted.
	Stopped []string `json:"stopped,omitempty"`
}

// String describes the leftover for people.
func (l Leftover) String() string {
	state := "reverted"
	switch {
	case l.Elsewhere:
		state = "NOT reverted here: " + l.Hint
	case l.Error != "":
		state = "NOT reverted: " + l.Error
	case !l.Reverted:
		state = "would be reverted"
	}
	out := fmt.Sprintf("run %s, step %s (%s on %s): %s", l.RunID, l.Fault, l.Type, evidence.TargetNames(l.Targets), state)
	for _, s := range l.Stopped {
		out += "; first " + s
	}
	return out
}

// Run finds faults that runs whose process is gone left in effect and
// reverts them. Runs of live processes are left alone. Before it reverts
// anything of a run, it stops the runbook commands the run left running
// (an orphaned inject command must not undo the revert). A run that
// touched clusters is reverted only through a platform that acts on the
// same clusters; otherwise its faults are listed with the command that
// would revert them, and left as they are. It returns every leftover found
// and an error when any could not be reverted.
func Run(ctx context.Context, opts Options) ([]Leftover, error) {
	if opts.JournalDir == "" {
		return nil, errors.New("a journal directory is required")
	}
	if opts.Actions == nil {
		opts.Actions = &action.Runner{}
	}
	recs, err := journal.Load(opts.JournalDir)
	if err != nil {
		return nil, err
	}
	var out []Leftover
	var errs []error
	for _, rec := range recs {
		unfinished := rec.Unfinished()
		if (len(unfinished) == 0 && len(rec.InFlight()) == 0) || rec.Owner.Alive() {
			continue
		}
		left, err := cleanupRun(ctx, opts, rec, unfinished)
		out = append(out, left...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// cleanupRun stops what a dead run left running and reverts its faults.
func cleanupRun(ctx context.Context, opts Options, rec *journal.Record, unfinished []*journal.Fault) ([]Leftover, error) {
	j := journal.Reopen(opts.JournalDir, rec, opts.Clock)
	var out []Leftover
	var errs []error
	leftover := func(f *journal.Fault) Leftover {
		return Leftover{RunID: rec.RunID, Plan: rec.Plan, Fault: f.ID, Type: runstate.FaultType(&f.Spec), Targets: f.Targets}
	}
	// Commands the dead run left running die first, whatever cluster
	// they act on: they run on this machine.
	var stopped []string
	if !opts.DryRun {
		for i := range rec.Faults {
			f := &rec.Faults[i]
			did, err := action.Stop(ctx, opts.Clock, f.Actions)
			if err != nil {
				return nil, fmt.Errorf("run %s step %s: stopping its runbook commands before any revert: %w", rec.RunID, f.ID, err)
			}
			stopped = append(stopped, did...)
			for _, a := range f.Actions {
				_ = j.Tracker(f.ID).Finished(a.Token)
			}
		}
	}
	var p platform.Platform
	needPlatform := false
	for _, f := range unfinished {
		needPlatform = needPlatform || f.Spec.Exec == nil
	}
	if needPlatform && opts.Platforms != nil {
		var err error
		if p, err = opts.Platforms(ctx, &rec.Spec); err != nil {
			for _, f := range unfinished {
				l := leftover(f)
				l.Error = fmt.Sprintf("building platform %s: %v", rec.Platform, err)
				out = append(out, l)
			}
			return out, fmt.Errorf("run %s: building platform %s: %w", rec.RunID, rec.Platform, err)
		}
		if hint := elsewhere(rec.Clusters, p.Clusters()); hint != "" {
			for _, f := range unfinished {
				l := leftover(f)
				l.Elsewhere, l.Hint = true, hint
				out = append(out, l)
			}
			return out, nil
		}
	}
	for i, f := range unfinished {
		l := leftover(f)
		if i == 0 {
			l.Stopped = stopped
		}
		if opts.DryRun {
			out = append(out, l)
			continue
		}
		err := revertLeftover(ctx, opts, rec, f, p, j)
		if err != nil {
			l.Error = err.Error()
			errs = append(errs, fmt.Errorf("run %s step %s: %w", rec.RunID, f.ID, err))
			_ = j.Set(f.ID, f.State, err.Error())
		} else {
			l.Reverted = true
			if jerr := j.Set(f.ID, journal.Reverted, ""); jerr != nil {
				errs = append(errs, jerr)
			}
		}
		out = append(out, l)
	}
	if after := j.Record(); !opts.DryRun && rec.Finished == nil && len(after.Unfinished()) == 0 {
		if err := j.Finish(""); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// revertLeftover reverts one fault of a dead run.
func revertLeftover(ctx context.Context, opts Options, rec *journal.Record, f *journal.Fault, p platform.Platform, j *journal.Journal) error {
	ctx = action.WithTracker(ctx, j.Tracker(f.ID))
	if f.Spec.Exec != nil {
		if f.Spec.Exec.Revert == nil {
			return nil // nothing to undo
		}
		_, err := opts.Actions.Run(ctx, f.Spec.Exec.Revert, map[string]string{
			"FIREDRILL_RUN_ID": rec.RunID, "FIREDRILL_PLAN": rec.Plan, "FIREDRILL_STEP": f.ID, "FIREDRILL_PHASE": "cleanup",
		})
		return err
	}
	if p == nil {
		return errors.New("no platform available to revert it")
	}
	return p.Recover(ctx, platform.Fault{ID: f.ID, RunID: rec.RunID, Spec: &f.Spec}, f.Targets)
}

// elsewhere says, when the clusters a run touched are not all clusters
// the platform acts on, how to reach them; "" when they are (or the run
// touched none).
func elsewhere(touched, here []evidence.Cluster) string {
	var missing []evidence.Cluster
	for _, t := range touched {
		found := false
		for _, h := range here {
			found = found || t.Same(h)
		}
		if !found {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	var names, flags []string
	for _, c := range missing {
		names = append(names, fmt.Sprintf("%s (context %q)", c.Server, c.Context))
		if c.Context != "" && !slices.Contains(flags, "--context "+c.Context) {
			flags = append(flags, "--context "+c.Context)
		}
	}
	cmd := "drill cleanup " + strings.Join(flags, " ")
	if len(flags) == 0 {
		cmd = "drill cleanup --kubeconfig FILE (a kubeconfig for that server)"
	}
	return "it belongs to cluster " + strings.Join(names, ", ") + ", which this cleanup is not pointed at; revert it with: " + strings.TrimSpace(cmd)
}
