package engine

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/slo"
)

// state is everything a run knows. Only the run's loop goroutine writes
// it; Snapshot reads a copy under the run's lock. It holds no samples: the
// prober keeps those.
type state struct {
	spec   *v1alpha1.DrillPlanSpec
	obj    slo.Objectives
	groups [][]int
	// settle is how long after sending a sample is final (the probe
	// timeout plus slack): analyses only look at samples that can no
	// longer change.
	settle time.Duration
	// timeout bounds the observation of each recovery of a step.
	timeouts []time.Duration

	start time.Time
	// end is set when the run finished.
	end time.Time

	steps  []stepState
	faults []*faultState // by step index; nil for wait steps

	// group is the index of the group of steps running or next to run.
	group int
	// baseline is the steady-state window before the first fault, judged
	// once it ended; baselineOK is its verdict.
	baselineTo time.Time
	baselineOK *bool
	// finalFrom and finalTo bound the steady-state window after the last
	// fault; finalTo is set when it was judged.
	finalFrom, finalTo time.Time

	// abort is why the run stops early, once decided.
	abort *abortCause
	// interrupted is the cancellation of the run's context (a signal, an
	// API abort), observed by the loop.
	interrupted error
	// errs are problems that keep the run from doing what the plan says.
	errs []string

	// live are the SLIs over the abort window as of the last observation.
	live       v1alpha1.WindowStats
	liveAt     time.Time
	progressAt time.Time

	capacity     []evidence.CapacityPoint
	lastCapacity map[string]evidence.CapacityPoint
	capacityAt   time.Time
	models       []evidence.ModelObservation
	published    []evidence.ModelObservation
	events       []evidence.Event
	// replaced are Replaced events tied to no fault: replacement capacity
	// for whatever fault is in effect.
	replaced []time.Time

	// resumed are the steps a resumed run completed, by name.
	resumed map[string]bool
	done    bool
}

// abortKind says why a run stops early.
type abortKind int

const (
	// abortByCondition is the plan's abort condition (availability, max
	// duration): the drill failed its safety limits.
	abortByCondition abortKind = iota
	// abortInterrupted is a person or a controller stopping the run.
	abortInterrupted
	// abortBroken is a step that could not run (an injection failed).
	abortBroken
)

type abortCause struct {
	kind   abortKind
	reason string
	at     time.Time
}

// stepState is where a step is.
type stepState struct {
	name    string
	kind    v1alpha1.StepKind
	started time.Time
	// finished is set when the step is over (its fault observed, its
	// wait elapsed, or the run stopped).
	finished time.Time
	// message explains an error or a skip.
	message string
	// skipped is set when a resumed run had completed the step.
	skipped bool
	// interrupted is set when the run stopped before the step finished.
	interrupted bool
}

// faultPhase is where a fault is in its life.
type faultPhase int

const (
	// faultPending is not injected yet.
	faultPending faultPhase = iota
	// faultInjecting has an inject in flight.
	faultInjecting
	// faultFailover is injected; its failover is held or observed.
	faultFailover
	// faultReverting has a revert in flight.
	faultReverting
	// faultFailback is reverted; its fail-back is observed.
	faultFailback
	// faultDone needs nothing more.
	faultDone
)

// faultState is what happened to one fault.
type faultState struct {
	step  int
	id    string
	spec  *v1alpha1.Fault
	typ   string
	phase faultPhase

	// targets the fault acts on; injected the ones it was (maybe partly)
	// applied to.
	targets  []evidence.Target
	injected []evidence.Target

	// injectStarted is when the inject began; injectedAt when the fault
	// took effect (its earliest TookEffect event, or when Inject returned,
	// or when an exec fault's inject action finished).
	injectStarted, injectedAt time.Time
	// impactFrom is the earliest instant an SLI breach counts as the
	// failover's impact: injectedAt, or an exec action's start.
	impactFrom time.Time
	// failoverEnd ends the failover's observation: the revert's start for
	// a timed fault, else when it recovered or timed out.
	failoverEnd       time.Time
	failoverRecovered bool

	// revertStarted is when the revert began; reverted the fail-back's
	// start (revertStarted, or when an exec fault's revert action
	// finished); revertFrom the earliest instant of the fail-back's
	// impact.
	revertStarted, reverted, revertFrom time.Time
	// revertFinished is when the revert returned.
	revertFinished    time.Time
	failbackEnd       time.Time
	failbackRecovered bool

	// replaced are the platform's Replaced events for the fault.
	replaced []time.Time
	// tookEffect is the earliest TookEffect event.
	tookEffect time.Time
	actions    []v1alpha1.ActionResult
	// notes are the platform's notes and traffic switches about the fault.
	notes []evidence.Event
	// err is why inject or revert failed.
	err []string
}

// reverts says whether the fault gets a revert and a fail-back.
func (f *faultState) reverts() bool { return revertsFault(f.spec) }

// timed says whether the fault holds for a duration.
func (f *faultState) timed() bool { return f.spec.Duration != nil }

// newState is the state of a run of spec that starts now.
func newState(spec *v1alpha1.DrillPlanSpec, obj slo.Objectives, start time.Time, resume *journal.Record) state {
	s := state{
		spec: spec, obj: obj, groups: groups(spec.Steps), settle: settleOf(spec), start: start,
		steps: make([]stepState, len(spec.Steps)), faults: make([]*faultState, len(spec.Steps)),
		timeouts: make([]time.Duration, len(spec.Steps)), resumed: map[string]bool{},
	}
	for i := range spec.Steps {
		st := &spec.Steps[i]
		s.steps[i] = stepState{name: st.Name, kind: v1alpha1.StepWait}
		s.timeouts[i] = stepTimeout(st, &spec.Objectives)
		if st.Fault != nil {
			s.steps[i].kind = v1alpha1.StepFault
			s.faults[i] = &faultState{step: i, id: st.Name, spec: st.Fault, typ: FaultType(st.Fault)}
		}
	}
	if resume != nil {
		for _, name := range resume.Completed {
			s.resumed[name] = true
		}
	}
	return s
}

// groups splits steps into groups that start together.
func groups(steps []v1alpha1.Step) [][]int {
	var out [][]int
	for i, st := range steps {
		if st.Concurrent && len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], i)
			continue
		}
		out = append(out, []int{i})
	}
	return out
}

// clone copies the state deeply enough for Snapshot to summarize it while
// the loop goes on: the loop only appends to the shared slices and
// replaces fault states it changes.
func (s *state) clone() state {
	c := *s
	c.steps = append([]stepState(nil), s.steps...)
	c.faults = make([]*faultState, len(s.faults))
	for i, f := range s.faults {
		if f != nil {
			fc := *f
			fc.injected = append([]evidence.Target(nil), f.injected...)
			fc.replaced = append([]time.Time(nil), f.replaced...)
			fc.actions = append([]v1alpha1.ActionResult(nil), f.actions...)
			fc.notes = append([]evidence.Event(nil), f.notes...)
			fc.err = append([]string(nil), f.err...)
			c.faults[i] = &fc
		}
	}
	c.capacity = s.capacity[:len(s.capacity):len(s.capacity)]
	c.models = s.models[:len(s.models):len(s.models)]
	c.events = s.events[:len(s.events):len(s.events)]
	c.replaced = s.replaced[:len(s.replaced):len(s.replaced)]
	c.errs = append([]string(nil), s.errs...)
	return c
}
