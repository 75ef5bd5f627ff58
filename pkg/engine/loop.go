package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/planner"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
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
		if r.st.Done {
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
	po := planner.Options{ProgressInterval: r.e.opts.ProgressInterval, LiveMinRequests: 10}
	for range maxDecisionRounds {
		acts := planner.Decide(&r.st, now, po)
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
	if r.st.Interrupted == nil {
		r.st.Interrupted = context.Cause(ctx)
	}
}

// observe brings the state up to date with the world: platform events,
// capacity, the live SLIs and whether each observed fault recovered. buf
// is the samples buffer reused between ticks.
func (r *Run) observe(ctx context.Context, now time.Time, buf []evidence.Sample) []evidence.Sample {
	o := &r.e.opts
	r.observeEvents()
	s := &r.st
	if s.CapacityAt.IsZero() || now.Sub(s.CapacityAt) >= o.CapacityInterval {
		points, err := r.ro.Platform.Capacity(ctx)
		if err != nil && ctx.Err() == nil {
			log.FromContext(ctx).Warn("sampling capacity", "run", r.id, "err", err)
		}
		r.mu.Lock()
		r.keepCapacity(points)
		if err == nil {
			s.CapacityAt = now
		}
		r.mu.Unlock()
	}
	settled := now.Add(-s.Settle)
	window := runstate.AbortWindow(s.Spec)
	lookback := settled.Add(-window)
	for _, f := range s.Faults {
		if f != nil && f.Phase == runstate.FaultFailover && !f.InjectedAt.IsZero() {
			lookback = minTime(lookback, f.ImpactFrom.Add(-slo.DefaultBaseline))
		}
		if f != nil && f.Phase == runstate.FaultFailback {
			lookback = minTime(lookback, f.RevertFrom.Add(-slo.DefaultBaseline))
		}
	}
	buf = r.prober.AppendSince(buf[:0], lookback)
	live := v1alpha1.WindowStats{}
	if settled.Sub(s.Start) >= min(window, 5*time.Second) {
		live = slo.Stats(buf, settled.Add(-window), settled, 0)
	}
	recovered := map[int][2]bool{}
	for _, f := range s.Faults {
		if f == nil {
			continue
		}
		switch {
		case f.Phase == runstate.FaultFailover && !f.Timed() && s.CapacityAt.After(f.InjectedAt):
			in := r.faultInput(f, false, settled, buf)
			recovered[f.Step] = [2]bool{slo.Recovered(in, s.Obj), false}
		case f.Phase == runstate.FaultFailback && s.CapacityAt.After(f.Reverted):
			in := r.faultInput(f, true, settled, buf)
			recovered[f.Step] = [2]bool{false, slo.Recovered(in, s.Obj)}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if settled.Sub(s.Start) >= min(window, 5*time.Second) {
		s.Live, s.LiveAt = live, now
	}
	for i, rec := range recovered {
		f := s.Faults[i]
		f.FailoverRecovered = f.FailoverRecovered || rec[0]
		f.FailbackRecovered = f.FailbackRecovered || rec[1]
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
				s.Models = append(s.Models, *ev.Model)
			}
			continue
		}
		s.Events = append(s.Events, ev)
		f := s.Fault(ev.Fault)
		if f == nil {
			if ev.Type == evidence.EventReplaced {
				s.Replaced = append(s.Replaced, ev.At) // replacement capacity for any fault in effect
			}
			continue
		}
		switch ev.Type {
		case evidence.EventTookEffect:
			if f.TookEffect.IsZero() || ev.At.Before(f.TookEffect) {
				f.TookEffect = ev.At
			}
		case evidence.EventReplaced:
			f.Replaced = append(f.Replaced, ev.At)
		case evidence.EventNote, evidence.EventTrafficSwitched:
			f.Notes = append(f.Notes, ev)
		}
	}
}

// keepCapacity appends the points that change a workload's desired or
// ready replicas. The caller holds r.mu.
func (r *Run) keepCapacity(points []evidence.CapacityPoint) {
	s := &r.st
	if s.LastCapacity == nil {
		s.LastCapacity = map[string]evidence.CapacityPoint{}
	}
	for _, pt := range points {
		if last, ok := s.LastCapacity[pt.Workload]; ok && last.Desired == pt.Desired && last.Ready == pt.Ready {
			continue
		}
		s.LastCapacity[pt.Workload] = pt
		s.Capacity = append(s.Capacity, pt)
	}
}

// apply performs one decision.
func (r *Run) apply(ctx, teardown context.Context, a planner.Act, now time.Time) {
	s := &r.st
	logger := log.FromContext(ctx).With("run", r.id)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch a.Kind {
	case planner.ActProgress:
		s.ProgressAt = now
		r.emit(Event{Type: EventProgress, Live: s.Live, Active: r.activeNames()})
	case planner.ActStartStep:
		st := &s.Steps[a.Step]
		st.Started = now
		spec := &s.Spec.Steps[a.Step]
		desc := "wait"
		if spec.Wait != nil {
			desc = "wait " + report.FormatDuration(spec.Wait.Duration)
		}
		if f := s.Faults[a.Step]; f != nil {
			desc = f.Type
			f.Phase = runstate.FaultInjecting
			f.InjectStarted = now
			r.spawns = append(r.spawns, func() { r.inject(ctx, f) })
		}
		r.emit(Event{Type: EventStep, Step: st.Name, Message: desc, Active: r.activeNames()})
	case planner.ActSkipStep:
		st := &s.Steps[a.Step]
		st.Skipped, st.Started, st.Finished = true, now, now
		st.Message = "completed by run " + r.ro.Resume.RunID
		if f := s.Faults[a.Step]; f != nil {
			f.Phase = runstate.FaultDone
		}
		r.emit(Event{Type: EventStep, Step: st.Name, Message: "skipped: " + st.Message})
		r.journalStep(ctx, st.Name)
	case planner.ActFinishStep:
		st := &s.Steps[a.Step]
		st.Finished = now
		if s.Abort != nil {
			st.Interrupted = true
			return
		}
		r.journalStep(ctx, st.Name)
	case planner.ActNextGroup:
		s.Group++
	case planner.ActJudgeBaseline:
		r.judgeBaseline(now)
	case planner.ActRevert:
		f := s.Faults[a.Step]
		if f.Phase == runstate.FaultFailover && f.FailoverEnd.IsZero() {
			f.FailoverEnd = now
		}
		f.Phase = runstate.FaultReverting
		f.RevertStarted = now
		if err := r.journal.Set(f.ID, journal.Reverting, ""); err != nil {
			logger.Error("journaling a revert", "err", err)
		}
		r.spawns = append(r.spawns, func() { r.revert(teardown, f) })
	case planner.ActEndFailover:
		f := s.Faults[a.Step]
		f.FailoverEnd = a.End
		if !f.Timed() {
			msg := "recovered"
			if !f.FailoverRecovered {
				msg = "NOT recovered within the step timeout of " + report.FormatDuration(s.Timeouts[f.Step])
			}
			r.emit(Event{Type: EventRecovered, Step: f.ID, Message: msg, Active: r.activeNames()})
		}
		if f.Reverts() && len(f.Injected) > 0 && s.Abort == nil {
			f.Phase = runstate.FaultReverting
			f.RevertStarted = now
			if err := r.journal.Set(f.ID, journal.Reverting, ""); err != nil {
				logger.Error("journaling a revert", "err", err)
			}
			r.spawns = append(r.spawns, func() { r.revert(teardown, f) })
			return
		}
		f.Phase = runstate.FaultDone
	case planner.ActEndFailback:
		f := s.Faults[a.Step]
		f.FailbackEnd = a.End
		f.Phase = runstate.FaultDone
		msg := "fail-back recovered"
		if !f.FailbackRecovered {
			msg = "fail-back NOT recovered within the step timeout of " + report.FormatDuration(s.Timeouts[f.Step])
		}
		if s.Abort == nil {
			r.emit(Event{Type: EventRecovered, Step: f.ID, Message: msg, Active: r.activeNames()})
		}
	case planner.ActStartFinal:
		s.FinalFrom = now
		r.emit(Event{Type: EventBaseline, Message: "measuring the steady state after the last fault"})
	case planner.ActJudgeFinal:
		s.FinalTo = now.Add(-s.Settle)
	case planner.ActAbort:
		s.Abort = a.Cause
		r.stop(fmt.Errorf("%s", a.Cause.Reason))
		r.emit(Event{Type: EventAborting, Message: a.Cause.Reason + "; reverting every active fault", Active: r.activeNames()})
	case planner.ActFinish:
		s.End = now
		s.Done = true
	}
}

// judgeBaseline judges the steady state before the first fault. The
// caller holds r.mu.
func (r *Run) judgeBaseline(now time.Time) {
	s := &r.st
	to := now.Add(-s.Settle)
	c := slo.SteadyState(r.prober.AppendSince(nil, s.Start), s.Start, to, s.Obj)
	ok := c.Verdict == v1alpha1.VerdictPass
	s.BaselineTo, s.BaselineOK = to, &ok
	st := c.Stats
	msg := fmt.Sprintf("steady state held: %s%% success, p99 %s over %d requests", st.Availability, report.FormatDuration(st.P99.Duration), st.Requests)
	if !ok {
		msg = fmt.Sprintf("steady state NOT met before any fault: %s%% success, p99 %s over %d requests", st.Availability, report.FormatDuration(st.P99.Duration), st.Requests)
	}
	r.emit(Event{Type: EventBaseline, Message: msg})
	if !ok && !s.Spec.Safety.SkipSteadyStateCheck {
		s.Errs = append(s.Errs, "the system did not meet its objectives before the first fault, so no fault was injected (set safety.skipSteadyStateCheck to drill anyway)")
	} else if !ok {
		t := true
		s.BaselineOK = &t // judged, and overridden by the plan
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
func (r *Run) faultInput(f *runstate.FaultState, failback bool, end time.Time, samples []evidence.Sample) slo.FaultInput {
	return runstate.FaultInput(&r.st, f, failback, end, samples)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
