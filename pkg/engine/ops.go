package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
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
func (r *Run) inject(ctx context.Context, f *faultState) {
	res := opResult{step: f.step}
	defer func() { r.results <- res }()
	st := &r.plan.Spec.Steps[f.step]
	rs, err := resolve(ctx, r.ro.Platform, &r.plan.Spec, r.id, st)
	if err != nil {
		res.err = err
		return
	}
	res.targets = rs.Picked
	// The journal knows about the fault before anything is touched.
	if err := r.journal.Begin(f.id, *f.spec, rs.Picked); err != nil {
		res.err = err
		return
	}
	res.begun = true
	// Every runbook action of the fault, the engine's or the platform's
	// (a cutover's switch command), is journaled while it runs.
	ctx = action.WithTracker(ctx, r.journal.Tracker(f.id))
	if ex := f.spec.Exec; ex != nil {
		ar, err := r.e.opts.Actions.Run(ctx, &ex.Inject, r.env(f, "inject"))
		res.action = actionResult("inject", ar, err)
		res.injected, res.returned = rs.Picked, ar.Finished
		if res.returned.IsZero() {
			res.returned = r.e.opts.Clock.Now()
		}
		res.err = err
		return
	}
	pf := platform.Fault{ID: f.id, RunID: r.id, Spec: f.spec}
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
func (r *Run) revert(ctx context.Context, f *faultState) {
	res := opResult{step: f.step, revert: true}
	defer func() { r.results <- res }()
	ctx, cancel := context.WithTimeout(ctx, r.e.opts.RevertTimeout)
	defer cancel()
	ctx = action.WithTracker(ctx, r.journal.Tracker(f.id))
	if ex := f.spec.Exec; ex != nil {
		ar, err := r.e.opts.Actions.Run(ctx, ex.Revert, r.env(f, "revert"))
		res.action = actionResult("revert", ar, err)
		res.returned, res.err = ar.Finished, err
		if res.returned.IsZero() {
			res.returned = r.e.opts.Clock.Now()
		}
		return
	}
	pf := platform.Fault{ID: f.id, RunID: r.id, Spec: f.spec}
	var errs []error
	for _, t := range f.injected {
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
	f := s.faults[res.step]
	if res.action != nil {
		f.actions = append(f.actions, *res.action)
	}
	if res.revert {
		r.applyRevert(logger, f, res)
		return
	}
	if res.targets != nil {
		f.targets = res.targets
	}
	f.injected = res.injected
	if len(f.injected) > 0 {
		f.injectedAt, f.impactFrom = res.returned, res.returned
		if !f.tookEffect.IsZero() && f.tookEffect.Before(res.returned) {
			f.injectedAt, f.impactFrom = f.tookEffect, f.tookEffect
		}
		if res.action != nil && res.action.StartTime != nil {
			// A runbook's effect time is unknown: any breach after its
			// action started may be the impact.
			f.impactFrom = res.action.StartTime.Time
		}
	}
	if res.err != nil {
		msg := "inject: " + res.err.Error()
		f.err = append(f.err, msg)
		s.errs = append(s.errs, "step "+f.id+" could not inject its fault: "+res.err.Error())
		s.steps[f.step].message = msg
		if len(f.injected) == 0 {
			f.phase = faultDone
			if res.begun {
				// Nothing was applied: the journal closes the fault.
				if err := r.journal.Set(f.id, journal.Reverted, ""); err != nil {
					logger.Error("journaling a fault that was not injected", "err", err)
				}
			}
			return
		}
		f.phase = faultFailover // partly in effect: the abort reverts it
		return
	}
	f.phase = faultFailover
	if err := r.journal.Set(f.id, journal.Active, ""); err != nil {
		logger.Error("journaling an injected fault", "err", err)
	}
	r.emit(Event{Type: EventInjected, Step: f.id, Message: fmt.Sprintf("%s on %s", f.typ, evidence.TargetNames(f.injected)), Active: r.activeNames()})
}

// applyRevert records a revert's outcome; the caller holds r.mu.
func (r *Run) applyRevert(logger interface{ Error(string, ...any) }, f *faultState, res opResult) {
	s := &r.st
	f.revertFrom, f.reverted, f.revertFinished = f.revertStarted, f.revertStarted, res.returned
	if res.action != nil && res.action.CompletionTime != nil {
		// An exec revert takes effect when its action finished; its
		// disruption may start once it began.
		f.reverted = res.action.CompletionTime.Time
	}
	state, msg, text := journal.Reverted, "", "reverted"
	if res.err != nil {
		state, msg, text = journal.Reverting, res.err.Error(), "revert FAILED: "+res.err.Error()
		f.err = append(f.err, "revert: "+res.err.Error())
		logger.Error("reverting a fault", "step", f.id, "err", res.err)
	}
	if err := r.journal.Set(f.id, state, msg); err != nil {
		logger.Error("journaling a revert", "err", err)
	}
	f.phase = faultFailback
	if s.abort != nil {
		f.phase = faultDone
		f.failbackEnd = f.reverted
	}
	r.emit(Event{Type: EventReverted, Step: f.id, Message: text, Active: r.activeNames()})
}

// env is the environment of a fault's runbook actions.
func (r *Run) env(f *faultState, phase string) map[string]string {
	r.mu.Lock()
	endpoint := r.endpoint
	r.mu.Unlock()
	return map[string]string{
		"FIREDRILL_RUN_ID": r.id, "FIREDRILL_PLAN": r.plan.Name, "FIREDRILL_STEP": f.id,
		"FIREDRILL_PHASE": phase, "FIREDRILL_ENDPOINT": endpoint,
	}
}

// actionResult is a runbook action as a result reports it.
func actionResult(phase string, res action.Result, err error) *v1alpha1.ActionResult {
	a := &v1alpha1.ActionResult{
		Phase: phase, StartTime: micro(res.Started), CompletionTime: micro(res.Finished),
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
