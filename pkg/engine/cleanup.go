package engine

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
)

// PlatformFactory builds the platform a journaled run used, so cleanup can
// revert its faults.
type PlatformFactory func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error)

// CleanupOptions configure Cleanup.
type CleanupOptions struct {
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
	RunID   string
	Plan    string
	Fault   string
	Type    string
	Targets []evidence.Target
	// Reverted is true once cleanup reverted it; Error says why not.
	Reverted bool
	Error    string
}

// String describes the leftover for people.
func (l Leftover) String() string {
	state := "reverted"
	switch {
	case l.Error != "":
		state = "NOT reverted: " + l.Error
	case !l.Reverted:
		state = "would be reverted"
	}
	return fmt.Sprintf("run %s, step %s (%s on %s): %s", l.RunID, l.Fault, l.Type, evidence.TargetNames(l.Targets), state)
}

// Cleanup finds faults that runs whose process is gone left in effect and
// reverts them. Runs of live processes are left alone. It returns every
// leftover found and an error when any could not be reverted.
func Cleanup(ctx context.Context, opts CleanupOptions) ([]Leftover, error) {
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
		if len(unfinished) == 0 || rec.Owner.Alive() {
			continue
		}
		j := journal.Reopen(opts.JournalDir, rec, opts.Clock)
		var p platform.Platform
		for _, f := range unfinished {
			l := Leftover{RunID: rec.RunID, Plan: rec.Plan, Fault: f.ID, Type: FaultType(&f.Spec), Targets: f.Targets}
			if opts.DryRun {
				out = append(out, l)
				continue
			}
			err := func() error {
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
					if opts.Platforms == nil {
						return errors.New("no platform available to revert it")
					}
					var err error
					if p, err = opts.Platforms(ctx, &rec.Spec); err != nil {
						return fmt.Errorf("building platform %s: %w", rec.Platform, err)
					}
				}
				pf := platform.Fault{ID: f.ID, RunID: rec.RunID, Spec: &f.Spec}
				return p.Recover(ctx, pf, f.Targets)
			}()
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
	}
	return out, errors.Join(errs...)
}

// DryRun resolves what each step of p would do, touching nothing.
func DryRun(ctx context.Context, p platform.Platform, spec *v1alpha1.DrillPlanSpec, runID string) ([]Resolution, error) {
	var out []Resolution
	var errs []error
	for i := range spec.Steps {
		st := &spec.Steps[i]
		if st.Fault == nil {
			out = append(out, Resolution{Step: st.Name, Type: "wait"})
			continue
		}
		res, err := resolve(ctx, p, spec, runID, st)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
