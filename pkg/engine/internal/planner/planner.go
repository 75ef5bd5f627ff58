package planner

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/report"
)

// ActKind names a decision of the planner.
type ActKind int

const (
	// ActStartStep starts a step (and, for a fault, dispatches its inject).
	ActStartStep ActKind = iota
	// ActSkipStep marks a step a resumed run completed.
	ActSkipStep
	// ActFinishStep ends a step.
	ActFinishStep
	// ActNextGroup moves on to the next group of steps.
	ActNextGroup
	// ActJudgeBaseline judges the steady state before the first fault.
	ActJudgeBaseline
	// ActRevert dispatches a fault's revert.
	ActRevert
	// ActEndFailover ends the observation of a fault's failover.
	ActEndFailover
	// ActEndFailback ends the observation of a fault's fail-back.
	ActEndFailback
	// ActStartFinal starts the steady-state window after the last fault.
	ActStartFinal
	// ActJudgeFinal ends and judges that window.
	ActJudgeFinal
	// ActAbort stops the run early: every active fault is reverted.
	ActAbort
	// ActProgress sends a progress event.
	ActProgress
	// ActFinish ends the run.
	ActFinish
)

// Act is one decision. step is the step index it is about; end is the
// instant an observation ends; cause is an abort's reason.
type Act struct {
	Kind  ActKind
	Step  int
	End   time.Time
	Cause *runstate.AbortCause
}

// Options are the settings the planner reads besides the state.
type Options struct {
	// ProgressInterval is how often a progress event is due.
	ProgressInterval time.Duration
	// LiveMinRequests is how many samples the abort window needs before
	// availabilityBelow is judged.
	LiveMinRequests int64
}

// Decide returns what happens next, as a pure function of the run's state
// and the time. It never changes s: the executor applies the decisions and
// calls Decide again until there is nothing more to do now.
func Decide(s *runstate.State, now time.Time, po Options) []Act {
	if s.Done {
		return nil
	}
	if s.Abort == nil {
		if cause := abortCondition(s, now, po); cause != nil {
			return []Act{{Kind: ActAbort, Cause: cause}}
		}
	}
	if s.Abort != nil {
		return wrapUp(s, now)
	}
	var acts []Act
	if s.ProgressAt.IsZero() || now.Sub(s.ProgressAt) >= po.ProgressInterval {
		acts = append(acts, Act{Kind: ActProgress})
	}
	if s.Group == len(s.Groups) {
		return append(acts, finalCheck(s, now)...)
	}
	g := s.Groups[s.Group]
	started := false
	for _, i := range g {
		started = started || !s.Steps[i].Started.IsZero() || s.Steps[i].Skipped
	}
	if !started {
		return append(acts, startGroup(s, g, now)...)
	}
	allDone := true
	for _, i := range g {
		st := &s.Steps[i]
		if !st.Finished.IsZero() {
			continue
		}
		allDone = false
		if s.Faults[i] == nil {
			if now.Sub(st.Started) >= s.Spec.Steps[i].Wait.Duration {
				acts = append(acts, Act{Kind: ActFinishStep, Step: i})
			}
			continue
		}
		acts = append(acts, faultActs(s, s.Faults[i], now)...)
	}
	if allDone {
		acts = append(acts, Act{Kind: ActNextGroup})
	}
	return acts
}

// abortCondition is a new reason to stop the run, or nil.
func abortCondition(s *runstate.State, now time.Time, po Options) *runstate.AbortCause {
	switch {
	case s.Interrupted != nil:
		return &runstate.AbortCause{Kind: runstate.AbortInterrupted, Reason: "interrupted: " + s.Interrupted.Error(), At: now}
	case len(s.Errs) > 0:
		return &runstate.AbortCause{Kind: runstate.AbortBroken, Reason: s.Errs[0], At: now}
	}
	a := s.Spec.Abort
	if a.MaxDuration != nil && now.Sub(s.Start) > a.MaxDuration.Duration {
		return &runstate.AbortCause{Kind: runstate.AbortByCondition, At: now,
			Reason: "the drill ran longer than abort.maxDuration (" + report.FormatDuration(a.MaxDuration.Duration) + ")"}
	}
	if a.AvailabilityBelow != "" && !s.LiveAt.IsZero() && s.Live.Requests >= po.LiveMinRequests {
		below, err := a.AvailabilityBelow.Float()
		if err == nil && s.Live.SuccessRate() < below {
			return &runstate.AbortCause{Kind: runstate.AbortByCondition, At: now,
				Reason: fmt.Sprintf("availability %s%% over the last %s fell below abort.availabilityBelow (%s%%)",
					s.Live.Availability, report.FormatDuration(runstate.AbortWindow(s.Spec)), a.AvailabilityBelow)}
		}
	}
	return nil
}

// wrapUp reverts every active fault after an abort, ends every open
// observation and step, and finishes once nothing is in flight and the
// samples of the reverts have settled.
func wrapUp(s *runstate.State, now time.Time) []Act {
	var acts []Act
	busy := false
	var lastRevert time.Time
	for _, f := range s.Faults {
		if f == nil {
			continue
		}
		switch f.Phase {
		case runstate.FaultInjecting, runstate.FaultReverting:
			busy = true
		case runstate.FaultFailover:
			if f.Reverts() && len(f.Injected) > 0 {
				acts = append(acts, Act{Kind: ActRevert, Step: f.Step})
				busy = true
			} else {
				acts = append(acts, Act{Kind: ActEndFailover, Step: f.Step, End: now})
			}
		case runstate.FaultFailback:
			acts = append(acts, Act{Kind: ActEndFailback, Step: f.Step, End: now})
		}
		if f.RevertStarted.After(lastRevert) {
			lastRevert = f.RevertStarted
		}
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if !st.Started.IsZero() && st.Finished.IsZero() && (s.Faults[i] == nil || s.Faults[i].Phase == runstate.FaultDone || s.Faults[i].Phase == runstate.FaultPending) {
			acts = append(acts, Act{Kind: ActFinishStep, Step: i})
		}
	}
	if busy || len(acts) > 0 {
		return acts
	}
	// Let the samples sent during the reverts settle, so the report
	// measures them.
	if !lastRevert.IsZero() && now.Before(lastRevert.Add(s.Settle)) {
		return nil
	}
	return []Act{{Kind: ActFinish}}
}

// startGroup starts a group of steps, after the baseline when the group
// is the first with a fault.
func startGroup(s *runstate.State, g []int, now time.Time) []Act {
	skip := true
	hasFault := false
	for _, i := range g {
		skip = skip && s.Resumed[s.Steps[i].Name]
		hasFault = hasFault || s.Faults[i] != nil
	}
	if skip {
		acts := make([]Act, 0, len(g)+1)
		for _, i := range g {
			acts = append(acts, Act{Kind: ActSkipStep, Step: i})
		}
		return append(acts, Act{Kind: ActNextGroup})
	}
	if hasFault && s.BaselineOK == nil {
		// A full recovered window of load must run before the first fault.
		if now.Before(s.Start.Add(s.Obj.Recovered.For + s.Settle)) {
			return nil
		}
		return []Act{{Kind: ActJudgeBaseline}}
	}
	acts := make([]Act, 0, len(g))
	for _, i := range g {
		acts = append(acts, Act{Kind: ActStartStep, Step: i})
	}
	return acts
}

// faultActs moves one started fault along: hold, observe, revert, observe
// the fail-back, done.
func faultActs(s *runstate.State, f *runstate.FaultState, now time.Time) []Act {
	timeout := s.Timeouts[f.Step]
	switch f.Phase {
	case runstate.FaultFailover:
		if f.Timed() {
			holdEnd := f.InjectedAt.Add(f.Spec.Duration.Duration)
			if now.Before(holdEnd) {
				return nil
			}
			if f.Reverts() {
				return []Act{{Kind: ActRevert, Step: f.Step}}
			}
			return []Act{{Kind: ActEndFailover, Step: f.Step, End: now}}
		}
		deadline := f.InjectedAt.Add(timeout)
		switch {
		case f.FailoverRecovered:
			return []Act{{Kind: ActEndFailover, Step: f.Step, End: now}}
		case !now.Before(deadline):
			return []Act{{Kind: ActEndFailover, Step: f.Step, End: deadline}}
		}
	case runstate.FaultFailback:
		deadline := f.Reverted.Add(timeout)
		switch {
		case f.FailbackRecovered:
			return []Act{{Kind: ActEndFailback, Step: f.Step, End: now}}
		case !now.Before(deadline):
			return []Act{{Kind: ActEndFailback, Step: f.Step, End: deadline}}
		}
	case runstate.FaultDone:
		return []Act{{Kind: ActFinishStep, Step: f.Step}}
	}
	return nil
}

// finalCheck measures the steady state after the last fault, when a
// fault ran, then finishes.
func finalCheck(s *runstate.State, now time.Time) []Act {
	ranFault := false
	for _, f := range s.Faults {
		ranFault = ranFault || (f != nil && !f.InjectedAt.IsZero())
	}
	switch {
	case !ranFault:
	case s.FinalFrom.IsZero():
		return []Act{{Kind: ActStartFinal}}
	case s.FinalTo.IsZero():
		if now.Before(s.FinalFrom.Add(s.Obj.Recovered.For + s.Settle)) {
			return nil
		}
		return []Act{{Kind: ActJudgeFinal}}
	}
	return []Act{{Kind: ActFinish}}
}
