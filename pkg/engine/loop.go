package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// maxDecisionRounds bounds how often the loop decides again within one
// tick: enough for a step to start, a fault to end and the next group to
// begin at the same instant.
const maxDecisionRounds = 16

// loop observes, decides and acts until the run is done.
func (r *Run) loop(ctx, teardown context.Context) {
	ticker := r.e.opts.Clock.NewTicker(r.e.opts.Tick)
	defer ticker.Stop()
	ctxDone := ctx.Done()
	for {
		r.tick(ctx, teardown)
		if r.st.done {
			return
		}
		select {
		case res := <-r.results:
			r.applyResult(ctx, res)
		case <-ticker.C():
		case <-ctxDone:
			ctxDone = nil // observed once; the loop goes on to revert
			r.interrupt(ctx)
		}
	}
}

// tick observes the world once, then decides and acts until there is
// nothing more to do now.
func (r *Run) tick(ctx, teardown context.Context) {
	now := r.e.opts.Clock.Now()
	r.buf = r.observe(ctx, now, r.buf)
	po := planOptions{progressInterval: r.e.opts.ProgressInterval, liveMinRequests: 10}
	for range maxDecisionRounds {
		acts := decide(&r.st, now, po)
		if len(acts) == 0 {
			return
		}
		for _, a := range acts {
			r.apply(ctx, teardown, a, now)
			r.flush()
			spawns := r.spawns
			r.spawns = nil
			for _, f := range spawns {
				r.spawn(f)
			}
		}
	}
}

// interrupt records the cancellation of the run's context.
func (r *Run) interrupt(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.interrupted == nil {
		r.st.interrupted = context.Cause(ctx)
	}
}

// observe brings the state up to date with the world: platform events,
// capacity, the live SLIs and whether each observed fault recovered. buf
// is the samples buffer reused between ticks.
func (r *Run) observe(ctx context.Context, now time.Time, buf []evidence.Sample) []evidence.Sample {
	o := &r.e.opts
	r.observeEvents()
	s := &r.st
	if s.capacityAt.IsZero() || now.Sub(s.capacityAt) >= o.CapacityInterval {
		points, err := r.ro.Platform.Capacity(ctx)
		if err != nil && ctx.Err() == nil {
			log.FromContext(ctx).Warn("sampling capacity", "run", r.id, "err", err)
		}
		r.mu.Lock()
		r.keepCapacity(points)
		if err == nil {
			s.capacityAt = now
		}
		r.mu.Unlock()
	}
	settled := now.Add(-s.settle)
	window := abortWindow(s.spec)
	lookback := settled.Add(-window)
	for _, f := range s.faults {
		if f != nil && f.phase == faultFailover && !f.injectedAt.IsZero() {
			lookback = minTime(lookback, f.impactFrom.Add(-slo.DefaultBaseline))
		}
		if f != nil && f.phase == faultFailback {
			lookback = minTime(lookback, f.revertFrom.Add(-slo.DefaultBaseline))
		}
	}
	buf = r.prober.AppendSince(buf[:0], lookback)
	live := v1alpha1.WindowStats{}
	if settled.Sub(s.start) >= min(window, 5*time.Second) {
		live = slo.Stats(buf, settled.Add(-window), settled, 0)
	}
	recovered := map[int][2]bool{}
	for _, f := range s.faults {
		if f == nil {
			continue
		}
		switch {
		case f.phase == faultFailover && !f.timed() && s.capacityAt.After(f.injectedAt):
			in := r.faultInput(f, false, settled, buf)
			recovered[f.step] = [2]bool{slo.Recovered(in, s.obj), false}
		case f.phase == faultFailback && s.capacityAt.After(f.reverted):
			in := r.faultInput(f, true, settled, buf)
			recovered[f.step] = [2]bool{false, slo.Recovered(in, s.obj)}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if settled.Sub(s.start) >= min(window, 5*time.Second) {
		s.live, s.liveAt = live, now
	}
	for i, rec := range recovered {
		f := s.faults[i]
		f.failoverRecovered = f.failoverRecovered || rec[0]
		f.failbackRecovered = f.failbackRecovered || rec[1]
	}
	return buf
}

// observeEvents moves the platform's events into the state.
func (r *Run) observeEvents() {
	evs := r.rec.drain()
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.st
	for _, ev := range evs {
		if ev.Type == evidence.EventModelServed {
			if ev.Model != nil {
				s.models = append(s.models, *ev.Model)
			}
			continue
		}
		s.events = append(s.events, ev)
		f := s.fault(ev.Fault)
		if f == nil {
			if ev.Type == evidence.EventReplaced {
				s.replaced = append(s.replaced, ev.At) // replacement capacity for any fault in effect
			}
			continue
		}
		switch ev.Type {
		case evidence.EventTookEffect:
			if f.tookEffect.IsZero() || ev.At.Before(f.tookEffect) {
				f.tookEffect = ev.At
			}
		case evidence.EventReplaced:
			f.replaced = append(f.replaced, ev.At)
		case evidence.EventNote, evidence.EventTrafficSwitched:
			f.notes = append(f.notes, ev)
		}
	}
}

// fault is the fault of step id, nil when there is none.
func (s *state) fault(id string) *faultState {
	for _, f := range s.faults {
		if f != nil && f.id == id {
			return f
		}
	}
	return nil
}

// keepCapacity appends the points that change a workload's desired or
// ready replicas. The caller holds r.mu.
func (r *Run) keepCapacity(points []evidence.CapacityPoint) {
	s := &r.st
	if s.lastCapacity == nil {
		s.lastCapacity = map[string]evidence.CapacityPoint{}
	}
	for _, pt := range points {
		if last, ok := s.lastCapacity[pt.Workload]; ok && last.Desired == pt.Desired && last.Ready == pt.Ready {
			continue
		}
		s.lastCapacity[pt.Workload] = pt
		s.capacity = append(s.capacity, pt)
	}
}

// apply performs one decision.
func (r *Run) apply(ctx, teardown context.Context, a act, now time.Time) {
	s := &r.st
	logger := log.FromContext(ctx).With("run", r.id)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch a.kind {
	case actProgress:
		s.progressAt = now
		r.emit(Event{Type: EventProgress, Live: s.live, Active: r.activeNames()})
	case actStartStep:
		st := &s.steps[a.step]
		st.started = now
		spec := &s.spec.Steps[a.step]
		desc := "wait"
		if spec.Wait != nil {
			desc = "wait " + report.FormatDuration(spec.Wait.Duration)
		}
		if f := s.faults[a.step]; f != nil {
			desc = f.typ
			f.phase = faultInjecting
			f.injectStarted = now
			r.spawns = append(r.spawns, func() { r.inject(ctx, f) })
		}
		r.emit(Event{Type: EventStep, Step: st.name, Message: desc, Active: r.activeNames()})
	case actSkipStep:
		st := &s.steps[a.step]
		st.skipped, st.started, st.finished = true, now, now
		st.message = "completed by run " + r.ro.Resume.RunID
		if f := s.faults[a.step]; f != nil {
			f.phase = faultDone
		}
		r.emit(Event{Type: EventStep, Step: st.name, Message: "skipped: " + st.message})
		r.journalStep(ctx, st.name)
	case actFinishStep:
		st := &s.steps[a.step]
		st.finished = now
		if s.abort != nil {
			st.interrupted = true
			return
		}
		r.journalStep(ctx, st.name)
	case actNextGroup:
		s.group++
	case actJudgeBaseline:
		r.judgeBaseline(now)
	case actRevert:
		f := s.faults[a.step]
		if f.phase == faultFailover && f.failoverEnd.IsZero() {
			f.failoverEnd = now
		}
		f.phase = faultReverting
		f.revertStarted = now
		if err := r.journal.Set(f.id, journal.Reverting, ""); err != nil {
			logger.Error("journaling a revert", "err", err)
		}
		r.spawns = append(r.spawns, func() { r.revert(teardown, f) })
	case actEndFailover:
		f := s.faults[a.step]
		f.failoverEnd = a.end
		if !f.timed() {
			msg := "recovered"
			if !f.failoverRecovered {
				msg = "NOT recovered within the step timeout of " + report.FormatDuration(s.timeouts[f.step])
			}
			r.emit(Event{Type: EventRecovered, Step: f.id, Message: msg, Active: r.activeNames()})
		}
		if f.reverts() && len(f.injected) > 0 && s.abort == nil {
			f.phase = faultReverting
			f.revertStarted = now
			if err := r.journal.Set(f.id, journal.Reverting, ""); err != nil {
				logger.Error("journaling a revert", "err", err)
			}
			r.spawns = append(r.spawns, func() { r.revert(teardown, f) })
			return
		}
		f.phase = faultDone
	case actEndFailback:
		f := s.faults[a.step]
		f.failbackEnd = a.end
		f.phase = faultDone
		msg := "fail-back recovered"
		if !f.failbackRecovered {
			msg = "fail-back NOT recovered within the step timeout of " + report.FormatDuration(s.timeouts[f.step])
		}
		if s.abort == nil {
			r.emit(Event{Type: EventRecovered, Step: f.id, Message: msg, Active: r.activeNames()})
		}
	case actStartFinal:
		s.finalFrom = now
		r.emit(Event{Type: EventBaseline, Message: "measuring the steady state after the last fault"})
	case actJudgeFinal:
		s.finalTo = now.Add(-s.settle)
	case actAbort:
		s.abort = a.cause
		r.stop(fmt.Errorf("%s", a.cause.reason))
		r.emit(Event{Type: EventAborting, Message: a.cause.reason + "; reverting every active fault", Active: r.activeNames()})
	case actFinish:
		s.end = now
		s.done = true
	}
}

// judgeBaseline judges the steady state before the first fault. The
// caller holds r.mu.
func (r *Run) judgeBaseline(now time.Time) {
	s := &r.st
	to := now.Add(-s.settle)
	c := slo.SteadyState(r.prober.AppendSince(nil, s.start), s.start, to, s.obj)
	ok := c.Verdict == v1alpha1.VerdictPass
	s.baselineTo, s.baselineOK = to, &ok
	st := c.Stats
	msg := fmt.Sprintf("steady state held: %s%% success, p99 %s over %d requests", st.Availability, report.FormatDuration(st.P99.Duration), st.Requests)
	if !ok {
		msg = fmt.Sprintf("steady state NOT met before any fault: %s%% success, p99 %s over %d requests", st.Availability, report.FormatDuration(st.P99.Duration), st.Requests)
	}
	r.emit(Event{Type: EventBaseline, Message: msg})
	if !ok && !s.spec.Safety.SkipSteadyStateCheck {
		s.errs = append(s.errs, "the system did not meet its objectives before the first fault, so no fault was injected (set safety.skipSteadyStateCheck to drill anyway)")
	} else if !ok {
		t := true
		s.baselineOK = &t // judged, and overridden by the plan
	}
}

// journalStep records a finished step; the caller holds r.mu.
func (r *Run) journalStep(ctx context.Context, name string) {
	if err := r.journal.StepDone(name); err != nil {
		log.FromContext(ctx).Error("journaling a finished step", "run", r.id, "err", err)
	}
}

// faultInput is what slo needs to measure f's failover (or fail-back) as
// of end. samples must start early enough (observe's lookback).
func (r *Run) faultInput(f *faultState, failback bool, end time.Time, samples []evidence.Sample) slo.FaultInput {
	return faultInput(&r.st, f, failback, end, samples)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
