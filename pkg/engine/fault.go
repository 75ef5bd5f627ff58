package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// fault runs one fault step: journal, inject, observe, revert, measure.
func (r *run) fault(ctx context.Context, abort context.CancelCauseFunc, st *v1alpha1.Step, rs *report.Step) {
	clk := r.opts.Clock
	logger := log.FromContext(ctx).With("step", st.Name)
	defer func() { rs.Finished = clk.Now() }()
	res, err := resolve(ctx, r.opts.Platform, r.spec, r.runID, st)
	if err != nil {
		rs.Phase, rs.Message = v1alpha1.RunError, err.Error()
		r.stepError(err.Error())
		return
	}
	fr := &report.Fault{Type: res.Type, Targets: res.Picked}
	rs.Fault = fr
	f := platform.Fault{ID: st.Name, RunID: r.runID, Spec: st.Fault}
	// The journal knows about the fault before anything is touched.
	if err := r.journal.Begin(st.Name, *st.Fault, res.Picked); err != nil {
		rs.Phase, rs.Message = v1alpha1.RunError, err.Error()
		r.stepError(err.Error())
		return
	}
	af := &activeFault{fault: f, step: st, targets: res.Picked, report: fr}
	r.mu.Lock()
	r.active[st.Name] = af
	r.mu.Unlock()

	injected, err := r.inject(ctx, af)
	if err != nil {
		fr.Error = "inject: " + err.Error()
		rs.Phase, rs.Message = v1alpha1.RunError, fr.Error
		r.stepError("step " + st.Name + ": " + fr.Error)
		abort(&abortError{reason: "step " + st.Name + " could not inject its fault: " + err.Error()})
		return
	}
	fr.Injected = injected
	if err := r.journal.Set(st.Name, journal.Active, ""); err != nil {
		logger.Error("journaling an injected fault", "err", err)
	}
	r.emit(Event{Type: EventInjected, Step: st.Name, Message: fmt.Sprintf("%s on %s", fr.Type, targetNames(res.Picked)), Active: r.activeNames()})

	timeout := 2*r.obj.RTO + r.obj.Recovered.For
	if st.Timeout != nil {
		timeout = st.Timeout.Duration
	}
	var reverted time.Time
	revertable := st.Fault.Revert != v1alpha1.RevertNever
	if st.Fault.Duration != nil {
		if !r.sleep(ctx, injected.Add(st.Fault.Duration.Duration).Sub(clk.Now())) {
			rs.Phase = v1alpha1.RunAborted
			return // revertAll undoes it
		}
		if revertable {
			reverted = r.revert(ctx, af)
		}
	}
	deadline := injected.Add(timeout)
	if !reverted.IsZero() {
		deadline = reverted.Add(timeout)
	}
	// Every tick reads the samples into the same buffer: the analyses only
	// read them, and keep nothing of them.
	var samples []slo.Sample
	recovered := r.observe(ctx, deadline, func(now time.Time) bool {
		if !r.analyze(af, injected, reverted, now, &samples).Recovered {
			return false
		}
		return reverted.IsZero() || (r.capacitySeenSince(reverted) && r.analyze(af, reverted, time.Time{}, now, &samples).Recovered)
	})
	if ctx.Err() != nil {
		rs.Phase = v1alpha1.RunAborted
		r.measure(ctx, af, injected, reverted, clk.Now())
		return
	}
	if recovered {
		r.emit(Event{Type: EventRecovered, Step: st.Name, Message: "recovered", Active: r.activeNames()})
	} else {
		r.emit(Event{Type: EventRecovered, Step: st.Name, Message: "NOT recovered within the step timeout of " + report.FormatDuration(timeout), Active: r.activeNames()})
	}
	if reverted.IsZero() && revertable {
		reverted = r.revert(ctx, af)
		// Observe the system after the revert too: undoing a fault can hurt.
		r.observe(ctx, reverted.Add(timeout), func(now time.Time) bool {
			return r.capacitySeenSince(reverted) && r.analyze(af, reverted, time.Time{}, now, &samples).Recovered
		})
	}
	r.measure(ctx, af, injected, reverted, clk.Now())
	rs.Phase = v1alpha1.RunSucceeded
	if !fr.Result.Pass || (fr.AfterRevert != nil && !fr.AfterRevert.Recovered) || fr.Error != "" {
		rs.Phase = v1alpha1.RunFailed
	}
}

// measure computes the final results of a fault into its report.
func (r *run) measure(ctx context.Context, af *activeFault, injected, reverted, end time.Time) {
	if rr, ok := r.opts.Platform.(platform.ReplacementReporter); ok {
		if t, err := rr.Replaced(ctx, af.fault, injected); err == nil && t != nil {
			r.mu.Lock()
			af.report.Result.Instants.Replaced = t
			r.mu.Unlock()
		}
	}
	res := r.analyze(af, injected, reverted, end, nil)
	var after *slo.FaultResult
	if !reverted.IsZero() {
		a := r.analyze(af, reverted, time.Time{}, end, nil)
		a.Name = af.fault.ID + " (after revert)"
		after = &a
	}
	window := slo.Stats(r.prober.Since(injected), injected, end.Add(-r.settle), r.obj.LatencyP99)
	r.mu.Lock()
	defer r.mu.Unlock()
	af.report.Result = res
	af.report.Window = window
	af.report.AfterRevert = after
	if n, ok := r.opts.Platform.(platform.Noter); ok {
		af.report.Notes = n.Notes(af.fault)
	}
	r.lastEnd = end
}

// analyze measures a fault injected at from, as of now. It runs every
// tick while a fault is observed, so it copies little: samples, when not
// nil, is a buffer the probe samples are read into and left in for the next
// call (not to be shared between goroutines), and the capacity series and
// model observations are passed as they are, clipped to their current
// length. That is safe because both only ever grow by append under r.mu,
// which never writes the elements already there, and AnalyzeFault only
// reads its input.
func (r *run) analyze(af *activeFault, from, reverted, now time.Time, samples *[]slo.Sample) slo.FaultResult {
	end := now.Add(-r.settle)
	r.mu.Lock()
	baselineFrom := r.lastEnd
	capacity := slices.Clip(r.capacity)
	models := slices.Clip(r.models)
	var newest *slo.ModelObservation
	for i := range r.published {
		p := &r.published[i]
		if !p.CreatedAt.After(from) && (newest == nil || p.CreatedAt.After(newest.CreatedAt)) {
			newest = p
		}
	}
	if newest != nil {
		p := *newest // r.published may be replaced once r.mu is released
		newest = &p
	}
	var replaced *time.Time
	if af.report != nil {
		replaced = af.report.Result.Instants.Replaced
	}
	r.mu.Unlock()
	if baselineFrom.After(from) || baselineFrom.Before(r.start) {
		baselineFrom = time.Time{}
	}
	lookback := from.Add(-slo.DefaultBaseline)
	if !baselineFrom.IsZero() && baselineFrom.After(lookback) {
		lookback = baselineFrom
	}
	if end.Before(from) {
		end = from
	}
	obj := r.obj
	if f := af.step.Fault; f.ModelStoreOutage == nil && f.RegionCutover == nil {
		obj.RPO = nil // RPO is about model staleness after store and region faults
	}
	var since []slo.Sample
	if samples != nil {
		*samples = r.prober.AppendSince((*samples)[:0], lookback)
		since = *samples
	} else {
		since = r.prober.Since(lookback)
	}
	return slo.AnalyzeFault(slo.FaultInput{
		Name: af.fault.ID, Injected: from, Reverted: reverted, End: end, BaselineFrom: baselineFrom,
		Replaced: replaced, Samples: since, Capacity: capacity, Models: models,
		NewestPublishedBefore: newest,
	}, obj)
}

// observe re-evaluates done every tick until it holds, the deadline passes
// or ctx ends, and says whether it held.
func (r *run) observe(ctx context.Context, deadline time.Time, done func(now time.Time) bool) bool {
	t := r.opts.Clock.NewTicker(r.opts.Tick)
	defer t.Stop()
	for {
		now := r.opts.Clock.Now()
		if done(now) {
			return true
		}
		if !now.Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C():
		}
	}
}

func (r *run) env(af *activeFault, phase string) map[string]string {
	return map[string]string{
		"FIREDRILL_RUN_ID": r.runID, "FIREDRILL_PLAN": r.plan.Name, "FIREDRILL_STEP": af.fault.ID,
		"FIREDRILL_PHASE": phase, "FIREDRILL_ENDPOINT": r.rep.Endpoint,
	}
}

func (r *run) recordAction(af *activeFault, phase string, res action.Result, err error) {
	a := report.Action{Phase: phase, Started: res.Started, Duration: res.Duration(), ExitCode: res.ExitCode, Status: res.Status, Output: res.Output}
	if err != nil {
		a.Error = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	af.report.Actions = append(af.report.Actions, a)
}

// inject applies a fault to every target and returns when it took effect.
func (r *run) inject(ctx context.Context, af *activeFault) (time.Time, error) {
	if ex := af.step.Fault.Exec; ex != nil {
		res, err := r.opts.Actions.Run(ctx, &ex.Inject, r.env(af, "inject"))
		r.recordAction(af, "inject", res, err)
		r.mu.Lock()
		af.injected = af.targets
		r.mu.Unlock()
		return res.Finished, err
	}
	for _, t := range af.targets {
		r.mu.Lock()
		af.injected = append(af.injected, t) // may be partly in effect if Inject fails
		r.mu.Unlock()
		if err := r.opts.Platform.Inject(ctx, af.fault, t); err != nil {
			return time.Time{}, fmt.Errorf("%s %s: %w", t.Kind, t.Name, err)
		}
	}
	now := r.opts.Clock.Now()
	if er, ok := r.opts.Platform.(platform.EffectReporter); ok {
		if t, ok := er.TookEffect(af.fault); ok && t.Before(now) {
			return t, nil
		}
	}
	return now, nil
}

// revert undoes a fault on every target it was injected on and returns
// when that was done. A failure is recorded; the journal keeps the fault
// unfinished so that drill cleanup retries it.
func (r *run) revert(ctx context.Context, af *activeFault) time.Time {
	logger := log.FromContext(ctx).With("step", af.fault.ID)
	r.mu.Lock()
	if af.reverted {
		r.mu.Unlock()
		return r.opts.Clock.Now()
	}
	af.reverted = true
	targets := append([]platform.Target(nil), af.injected...)
	r.mu.Unlock()
	if err := r.journal.Set(af.fault.ID, journal.Reverting, ""); err != nil {
		logger.Error("journaling a revert", "err", err)
	}
	var errs []error
	if ex := af.step.Fault.Exec; ex != nil {
		if ex.Revert != nil && len(targets) > 0 {
			res, err := r.opts.Actions.Run(ctx, ex.Revert, r.env(af, "revert"))
			r.recordAction(af, "revert", res, err)
			errs = append(errs, err)
		}
	} else {
		for _, t := range targets {
			if err := r.opts.Platform.Revert(ctx, af.fault, t); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", t.Kind, t.Name, err))
			}
		}
	}
	at := r.opts.Clock.Now()
	err := errors.Join(errs...)
	state, msg := journal.Reverted, ""
	if err != nil {
		state, msg = journal.Reverting, err.Error()
		logger.Error("reverting a fault", "err", err)
	}
	if jerr := r.journal.Set(af.fault.ID, state, msg); jerr != nil {
		logger.Error("journaling a revert", "err", jerr)
	}
	r.mu.Lock()
	af.report.Reverted = &at
	if err != nil {
		af.report.Error = strings.TrimPrefix(af.report.Error+"; revert: "+err.Error(), "; ")
	}
	r.mu.Unlock()
	msgText := "reverted"
	if err != nil {
		msgText = "revert FAILED: " + err.Error()
	}
	r.emit(Event{Type: EventReverted, Step: af.fault.ID, Message: msgText, Active: r.activeNames()})
	return at
}

// revertAll reverts every fault still in effect, all at once.
func (r *run) revertAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RevertTimeout)
	defer cancel()
	r.mu.Lock()
	var todo []*activeFault
	for _, af := range r.active {
		if !af.reverted {
			todo = append(todo, af)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, af := range todo {
		wg.Go(func() {
			r.revert(ctx, af)
			if af.report.Result.Name == "" && !af.report.Injected.IsZero() {
				r.measure(ctx, af, af.report.Injected, *af.report.Reverted, r.opts.Clock.Now())
			}
		})
	}
	wg.Wait()
}
