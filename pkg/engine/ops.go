package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// opResult is what an inject or a revert, run off the loop, reports back.
type opResult struct {
	step   int
	revert bool
	// targets are the resolved targets (inject) and injected the ones the
	// fault was applied to, maybe partly.
	targets, injected []evidence.Target
	// returned is when the platform call or action finished.
	returned time.Time
	// action is the runbook action's record, for exec faults.
	action *v1alpha1.ActionResult
	// begun is set once the journal recorded the fault.
	begun bool
	err   error
}

// inject resolves f's targets, journals it and injects it, then reports
// back to the loop. It runs off the loop: it reads only what the loop
// does not change while the fault is injecting.
func (r *Run) inject(ctx context.Context, f *runstate.FaultState) {
	res := opResult{step: f.Step}
	defer func() { r.results <- res }()
	st := &r.plan.Spec.Steps[f.Step]
	rs, err := resolve(ctx, r.ro.Platform, &r.plan.Spec, r.id, st)
	if err != nil {
		res.err = err
		return
	}
	res.targets = rs.Picked
	// The journal knows about the fault before anything is touched.
	if err := r.journal.Begin(f.ID, *f.Spec, rs.Picked); err != nil {
		res.err = err
		return
	}
	res.begun = true
	// Every runbook action of the fault, the engine's or the platform's
	// (a cutover's switch command), is journaled while it runs.
	ctx = action.WithTracker(ctx, r.journal.Tracker(f.ID))
	if ex := f.Spec.Exec; ex != nil {
		ar, err := r.e.opts.Actions.Run(ctx, &ex.Inject, r.env(f, "inject"))
		res.action = actionResult("inject", ar, err)
		res.injected, res.returned = rs.Picked, ar.Finished
		if res.returned.IsZero() {
			res.returned = r.e.opts.Clock.Now()
		}
		res.err = err
		return
	}
	pf := platform.Fault{ID: f.ID, RunID: r.id, Spec: f.Spec}
	for _, t := range rs.Picked {
		res.injected = append(res.injected, t) // may be partly in effect if Inject fails
		if err := r.ro.Platform.Inject(ctx, pf, t); err != nil {
			res.err = fmt.Errorf("%s: %w", t, err)
			break
		}
	}
	res.returned = r.e.opts.Clock.Now()
}

// revert undoes f on every target it was injected on, then reports back.
// ctx outlives the run's cancellation. A failure is recorded; the journal
// keeps the fault unfinished so that drill cleanup retries it.
func (r *Run) revert(ctx context.Context, f *runstate.FaultState) {
	res := opResult{step: f.Step, revert: true}
	defer func() { r.results <- res }()
	ctx, cancel := context.WithTimeout(ctx, r.e.opts.RevertTimeout)
	defer cancel()
	ctx = action.WithTracker(ctx, r.journal.Tracker(f.ID))
	if ex := f.Spec.Exec; ex != nil {
		ar, err := r.e.opts.Actions.Run(ctx, ex.Revert, r.env(f, "revert"))
		res.action = actionResult("revert", ar, err)
		res.returned, res.err = ar.Finished, err
		if res.returned.IsZero() {
			res.returned = r.e.opts.Clock.Now()
		}
		return
	}
	pf := platform.Fault{ID: f.ID, RunID: r.id, Spec: f.Spec}
	var errs []error
	for _, t := range f.Injected {
		if err := r.ro.Platform.Revert(ctx, pf, t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
		}
	}
	res.returned, res.err = r.e.opts.Clock.Now(), errors.Join(errs...)
}

// applyResult records what an inject or a revert did, after the
// platform events it raised.
func (r *Run) applyResult(ctx context.Context, res opResult) {
	r.observeEvents()
	defer r.flush()
	logger := log.FromContext(ctx).With("run", r.id)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.st
	f := s.Faults[res.step]
	if res.action != nil {
		f.Actions = append(f.Actions, *res.action)
	}
	if res.revert {
		r.applyRevert(logger, f, res)
		return
	}
	if res.targets != nil {
		f.Targets = res.targets
	}
	f.Injected = res.injected
	if len(f.Injected) > 0 {
		f.InjectedAt, f.ImpactFrom = res.returned, res.returned
		if !f.TookEffect.IsZero() && f.TookEffect.Before(res.returned) {
			f.InjectedAt, f.ImpactFrom = f.TookEffect, f.TookEffect
		}
		if res.action != nil && res.action.StartTime != nil {
			// A runbook's effect time is unknown: any breach after its
			// action started may be the impact.
			f.ImpactFrom = res.action.StartTime.Time
		}
	}
	if res.err != nil {
		msg := "inject: " + res.err.Error()
		f.Err = append(f.Err, msg)
		s.Errs = append(s.Errs, "step "+f.ID+" could not inject its fault: "+res.err.Error())
		s.Steps[f.Step].Message = msg
		if len(f.Injected) == 0 {
			f.Phase = runstate.FaultDone
			if res.begun {
				// Nothing was applied: the journal closes the fault.
				if err := r.journal.Set(f.ID, journal.Reverted, ""); err != nil {
					logger.Error("journaling a fault that was not injected", "err", err)
				}
			}
			return
		}
		f.Phase = runstate.FaultFailover // partly in effect: the abort reverts it
		return
	}
	f.Phase = runstate.FaultFailover
	if err := r.journal.Set(f.ID, journal.Active, ""); err != nil {
		logger.Error("journaling an injected fault", "err", err)
	}
	r.emit(Event{Type: EventInjected, Step: f.ID, Message: fmt.Sprintf("%s on %s", f.Type, evidence.TargetNames(f.Injected)), Active: r.activeNames()})
}

// applyRevert records a revert's outcome; the caller holds r.mu.
func (r *Run) applyRevert(logger interface{ Error(string, ...any) }, f *runstate.FaultState, res opResult) {
	s := &r.st
	f.RevertFrom, f.Reverted, f.RevertFinished = f.RevertStarted, f.RevertStarted, res.returned
	if res.action != nil && res.action.CompletionTime != nil {
		// An exec revert takes effect when its action finished; its
		// disruption may start once it began.
		f.Reverted = res.action.CompletionTime.Time
	}
	state, msg, text := journal.Reverted, "", "reverted"
	if res.err != nil {
		state, msg, text = journal.Reverting, res.err.Error(), "revert FAILED: "+res.err.Error()
		f.Err = append(f.Err, "revert: "+res.err.Error())
		logger.Error("reverting a fault", "step", f.ID, "err", res.err)
	}
	if err := r.journal.Set(f.ID, state, msg); err != nil {
		logger.Error("journaling a revert", "err", err)
	}
	f.Phase = runstate.FaultFailback
	if s.Abort != nil {
		f.Phase = runstate.FaultDone
		f.FailbackEnd = f.Reverted
	}
	r.emit(Event{Type: EventReverted, Step: f.ID, Message: text, Active: r.activeNames()})
}

// env is the environment of a fault's runbook actions.
func (r *Run) env(f *runstate.FaultState, phase string) map[string]string {
	r.mu.Lock()
	endpoint := r.endpoint
	r.mu.Unlock()
	return map[string]string{
		"FIREDRILL_RUN_ID": r.id, "FIREDRILL_PLAN": r.plan.Name, "FIREDRILL_STEP": f.ID,
		"FIREDRILL_PHASE": phase, "FIREDRILL_ENDPOINT": endpoint,
	}
}

// actionResult is a runbook action as a result reports it.
func actionResult(phase string, res action.Result, err error) *v1alpha1.ActionResult {
	a := &v1alpha1.ActionResult{
		Phase: phase, StartTime: runstate.Micro(res.Started), CompletionTime: runstate.Micro(res.Finished),
		ExitCode: int32(res.ExitCode), Status: int32(res.Status), Output: res.Output, //nolint:gosec // exit codes and statuses are small.
	}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

// recorder buffers the platform's events until the loop drains them.
type recorder struct {
	mu  sync.Mutex
	evs []evidence.Event
}

var _ evidence.Recorder = (*recorder)(nil)

func newRecorder() *recorder { return &recorder{} }

// Record implements evidence.Recorder.
func (c *recorder) Record(ev evidence.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
}

func (c *recorder) drain() []evidence.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.evs
	c.evs = nil
	return out
}
