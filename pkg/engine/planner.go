package engine

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/report"
)

// actKind names a decision of the planner.
type actKind int

const (
	// actStartStep starts a step (and, for a fault, dispatches its inject).
	actStartStep actKind = iota
	// actSkipStep marks a step a resumed run completed.
	actSkipStep
	// actFinishStep ends a step.
	actFinishStep
	// actNextGroup moves on to the next group of steps.
	actNextGroup
	// actJudgeBaseline judges the steady state before the first fault.
	actJudgeBaseline
	// actRevert dispatches a fault's revert.
	actRevert
	// actEndFailover ends the observation of a fault's failover.
	actEndFailover
	// actEndFailback ends the observation of a fault's fail-back.
	actEndFailback
	// actStartFinal starts the steady-state window after the last fault.
	actStartFinal
	// actJudgeFinal ends and judges that window.
	actJudgeFinal
	// actAbort stops the run early: every active fault is reverted.
	actAbort
	// actProgress sends a progress event.
	actProgress
	// actFinish ends the run.
	actFinish
)

// act is one decision. step is the step index it is about; end is the
// instant an observation ends; cause is an abort's reason.
type act struct {
	kind  actKind
	step  int
	end   time.Time
	cause *abortCause
}

// planOptions are the settings the planner reads besides the state.
type planOptions struct {
	progressInterval time.Duration
	// liveMinRequests is how many samples the abort window needs before
	// availabilityBelow is judged.
	liveMinRequests int64
}

// decide returns what happens next, as a pure function of the run's state
// and the time. It never changes s: the executor applies the decisions and
// calls decide again until there is nothing more to do now.
func decide(s *state, now time.Time, po planOptions) []act {
	if s.done {
		return nil
	}
	if s.abort == nil {
		if cause := abortCondition(s, now, po); cause != nil {
			return []act{{kind: actAbort, cause: cause}}
		}
	}
	if s.abort != nil {
		return wrapUp(s, now)
	}
	var acts []act
	if s.progressAt.IsZero() || now.Sub(s.progressAt) >= po.progressInterval {
		acts = append(acts, act{kind: actProgress})
	}
	if s.group == len(s.groups) {
		return append(acts, finalCheck(s, now)...)
	}
	g := s.groups[s.group]
	started := false
	for _, i := range g {
		started = started || !s.steps[i].started.IsZero() || s.steps[i].skipped
	}
	if !started {
		return append(acts, startGroup(s, g, now)...)
	}
	allDone := true
	for _, i := range g {
		st := &s.steps[i]
		if !st.finished.IsZero() {
			continue
		}
		allDone = false
		if s.faults[i] == nil {
			if now.Sub(st.started) >= s.spec.Steps[i].Wait.Duration {
				acts = append(acts, act{kind: actFinishStep, step: i})
			}
			continue
		}
		acts = append(acts, faultActs(s, s.faults[i], now)...)
	}
	if allDone {
		acts = append(acts, act{kind: actNextGroup})
	}
	return acts
}

// abortCondition is a new reason to stop the run, or nil.
func abortCondition(s *state, now time.Time, po planOptions) *abortCause {
	switch {
	case s.interrupted != nil:
		return &abortCause{kind: abortInterrupted, reason: "interrupted: " + s.interrupted.Error(), at: now}
	case len(s.errs) > 0:
		return &abortCause{kind: abortBroken, reason: s.errs[0], at: now}
	}
	a := s.spec.Abort
	if a.MaxDuration != nil && now.Sub(s.start) > a.MaxDuration.Duration {
		return &abortCause{kind: abortByCondition, at: now,
			reason: "the drill ran longer than abort.maxDuration (" + report.FormatDuration(a.MaxDuration.Duration) + ")"}
	}
	if a.AvailabilityBelow != "" && !s.liveAt.IsZero() && s.live.Requests >= po.liveMinRequests {
		below, err := a.AvailabilityBelow.Float()
		if err == nil && s.live.SuccessRate() < below {
			return &abortCause{kind: abortByCondition, at: now,
				reason: fmt.Sprintf("availability %s%% over the last %s fell below abort.availabilityBelow (%s%%)",
					s.live.Availability, report.FormatDuration(abortWindow(s.spec)), a.AvailabilityBelow)}
		}
	}
	return nil
}

// wrapUp reverts every active fault after an abort, ends every open
// observation and step, and finishes once nothing is in flight and the
// samples of the reverts have settled.
func wrapUp(s *state, now time.Time) []act {
	var acts []act
	busy := false
	var lastRevert time.Time
	for _, f := range s.faults {
		if f == nil {
			continue
		}
		switch f.phase {
		case faultInjecting, faultReverting:
			busy = true
		case faultFailover:
			if f.reverts() && len(f.injected) > 0 {
				acts = append(acts, act{kind: actRevert, step: f.step})
				busy = true
			} else {
				acts = append(acts, act{kind: actEndFailover, step: f.step, end: now})
			}
		case faultFailback:
			acts = append(acts, act{kind: actEndFailback, step: f.step, end: now})
		}
		if f.revertStarted.After(lastRevert) {
			lastRevert = f.revertStarted
		}
	}
	for i := range s.steps {
		st := &s.steps[i]
		if !st.started.IsZero() && st.finished.IsZero() && (s.faults[i] == nil || s.faults[i].phase == faultDone || s.faults[i].phase == faultPending) {
			acts = append(acts, act{kind: actFinishStep, step: i})
		}
	}
	if busy || len(acts) > 0 {
		return acts
	}
	// Let the samples sent during the reverts settle, so the report
	// measures them.
	if !lastRevert.IsZero() && now.Before(lastRevert.Add(s.settle)) {
		return nil
	}
	return []act{{kind: actFinish}}
}

// startGroup starts a group of steps, after the baseline when the group
// is the first with a fault.
func startGroup(s *state, g []int, now time.Time) []act {
	skip := true
	hasFault := false
	for _, i := range g {
		skip = skip && s.resumed[s.steps[i].name]
		hasFault = hasFault || s.faults[i] != nil
	}
	if skip {
		acts := make([]act, 0, len(g)+1)
		for _, i := range g {
			acts = append(acts, act{kind: actSkipStep, step: i})
		}
		return append(acts, act{kind: actNextGroup})
	}
	if hasFault && s.baselineOK == nil {
		// A full recovered window of load must run before the first fault.
		if now.Before(s.start.Add(s.obj.Recovered.For + s.settle)) {
			return nil
		}
		return []act{{kind: actJudgeBaseline}}
	}
	acts := make([]act, 0, len(g))
	for _, i := range g {
		acts = append(acts, act{kind: actStartStep, step: i})
	}
	return acts
}

// faultActs moves one started fault along: hold, observe, revert, observe
// the fail-back, done.
func faultActs(s *state, f *faultState, now time.Time) []act {
	timeout := s.timeouts[f.step]
	switch f.phase {
	case faultFailover:
		if f.timed() {
			holdEnd := f.injectedAt.Add(f.spec.Duration.Duration)
			if now.Before(holdEnd) {
				return nil
			}
			if f.reverts() {
				return []act{{kind: actRevert, step: f.step}}
			}
			return []act{{kind: actEndFailover, step: f.step, end: now}}
		}
		deadline := f.injectedAt.Add(timeout)
		switch {
		case f.failoverRecovered:
			return []act{{kind: actEndFailover, step: f.step, end: now}}
		case !now.Before(deadline):
			return []act{{kind: actEndFailover, step: f.step, end: deadline}}
		}
	case faultFailback:
		deadline := f.reverted.Add(timeout)
		switch {
		case f.failbackRecovered:
			return []act{{kind: actEndFailback, step: f.step, end: now}}
		case !now.Before(deadline):
			return []act{{kind: actEndFailback, step: f.step, end: deadline}}
		}
	case faultDone:
		return []act{{kind: actFinishStep, step: f.step}}
	}
	return nil
}

// finalCheck measures the steady state after the last fault, when a
// fault ran, then finishes.
func finalCheck(s *state, now time.Time) []act {
	ranFault := false
	for _, f := range s.faults {
		ranFault = ranFault || (f != nil && !f.injectedAt.IsZero())
	}
	switch {
	case !ranFault:
	case s.finalFrom.IsZero():
		return []act{{kind: actStartFinal}}
	case s.finalTo.IsZero():
		if now.Before(s.finalFrom.Add(s.obj.Recovered.For + s.settle)) {
			return nil
		}
		return []act{{kind: actJudgeFinal}}
	}
	return []act{{kind: actFinish}}
}
