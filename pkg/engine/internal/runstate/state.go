package runstate

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// State is everything a run knows. Only the run's loop goroutine (in
// package engine) writes it; Snapshot reads a copy under the run's lock.
// It holds no samples: the prober keeps those.
type State struct {
	Spec   *v1alpha1.DrillPlanSpec
	Obj    slo.Objectives
	Groups [][]int
	// Settle is how long after sending a sample is final (the probe
	// timeout plus slack): analyses only look at samples that can no
	// longer change.
	Settle time.Duration
	// Timeouts bound the observation of each recovery of a step.
	Timeouts []time.Duration

	Start time.Time
	// End is set when the run finished.
	End time.Time

	Steps  []StepState
	Faults []*FaultState // by step index; nil for wait steps

	// Group is the index of the group of steps running or next to run.
	Group int
	// BaselineTo ends the steady-state window before the first fault, judged
	// once it ended; BaselineOK is its verdict.
	BaselineTo time.Time
	BaselineOK *bool
	// FinalFrom and FinalTo bound the steady-state window after the last
	// fault; FinalTo is set when it was judged.
	FinalFrom, FinalTo time.Time

	// Abort is why the run stops early, once decided.
	Abort *AbortCause
	// Interrupted is the cancellation of the run's context (a signal, an
	// API abort), observed by the loop.
	Interrupted error
	// Errs are problems that keep the run from doing what the plan says.
	Errs []string

	// Live are the SLIs over the abort window as of the last observation.
	Live       v1alpha1.WindowStats
	LiveAt     time.Time
	ProgressAt time.Time

	Capacity     []evidence.CapacityPoint
	LastCapacity map[string]evidence.CapacityPoint
	CapacityAt   time.Time
	Models       []evidence.ModelObservation
	Published    []evidence.ModelObservation
	Events       []evidence.Event
	// Replaced are Replaced events tied to no fault: replacement capacity
	// for whatever fault is in effect.
	Replaced []time.Time

	// Resumed are the steps a resumed run completed, by name.
	Resumed map[string]bool
	Done    bool
}

// AbortKind says why a run stops early.
type AbortKind int

const (
	// AbortByCondition is the plan's abort condition (availability, max
	// duration): the drill failed its safety limits.
	AbortByCondition AbortKind = iota
	// AbortInterrupted is a person or a controller stopping the run.
	AbortInterrupted
	// AbortBroken is a step that could not run (an injection failed).
	AbortBroken
)

// AbortCause is why and when a run stops early, and of which kind.
type AbortCause struct {
	Kind   AbortKind
	Reason string
	At     time.Time
}

// StepState is where a step is.
type StepState struct {
	Name    string
	Kind    v1alpha1.StepKind
	Started time.Time
	// Finished is set when the step is over (its fault observed, its
	// wait elapsed, or the run stopped).
	Finished time.Time
	// Message explains an error or a skip.
	Message string
	// Skipped is set when a resumed run had completed the step.
	Skipped bool
	// Interrupted is set when the run stopped before the step finished.
	Interrupted bool
}

// FaultPhase is where a fault is in its life.
type FaultPhase int

const (
	// FaultPending is not injected yet.
	FaultPending FaultPhase = iota
	// FaultInjecting has an inject in flight.
	FaultInjecting
	// FaultFailover is injected; its failover is held or observed.
	FaultFailover
	// FaultReverting has a revert in flight.
	FaultReverting
	// FaultFailback is reverted; its fail-back is observed.
	FaultFailback
	// FaultDone needs nothing more.
	FaultDone
)

// FaultState is what happened to one fault.
type FaultState struct {
	Step  int
	ID    string
	Spec  *v1alpha1.Fault
	Type  string
	Phase FaultPhase

	// Targets the fault acts on; injected the ones it was (maybe partly)
	// applied to.
	Targets  []evidence.Target
	Injected []evidence.Target

	// InjectStarted is when the inject began; injectedAt when the fault
	// took effect (its earliest TookEffect event, or when Inject returned,
	// or when an exec fault's inject action finished).
	InjectStarted, InjectedAt time.Time
	// ImpactFrom is the earliest instant an SLI breach counts as the
	// failover's impact: injectedAt, or an exec action's start.
	ImpactFrom time.Time
	// FailoverEnd ends the failover's observation: the revert's start for
	// a timed fault, else when it recovered or timed out.
	FailoverEnd       time.Time
	FailoverRecovered bool

	// RevertStarted is when the revert began; reverted the fail-back's
	// Start (revertStarted, or when an exec fault's revert action
	// finished); revertFrom the earliest instant of the fail-back's
	// impact.
	RevertStarted, Reverted, RevertFrom time.Time
	// RevertFinished is when the revert returned.
	RevertFinished    time.Time
	FailbackEnd       time.Time
	FailbackRecovered bool

	// Replaced are the platform's Replaced events for the fault.
	Replaced []time.Time
	// TookEffect is the earliest TookEffect event.
	TookEffect time.Time
	Actions    []v1alpha1.ActionResult
	// Notes are the platform's notes and traffic switches about the fault.
	Notes []evidence.Event
	// Err is why inject or revert failed.
	Err []string
}

// Reverts says whether the fault gets a revert and a fail-back.
func (f *FaultState) Reverts() bool { return platform.Reverts(f.Spec) }

// Timed says whether the fault holds for a duration.
func (f *FaultState) Timed() bool { return f.Spec.Duration != nil }

// New is the state of a run of spec that starts now.
func New(spec *v1alpha1.DrillPlanSpec, obj slo.Objectives, start time.Time, resume *journal.Record) State {
	s := State{
		Spec: spec, Obj: obj, Groups: groups(spec.Steps), Settle: settleOf(spec), Start: start,
		Steps: make([]StepState, len(spec.Steps)), Faults: make([]*FaultState, len(spec.Steps)),
		Timeouts: make([]time.Duration, len(spec.Steps)), Resumed: map[string]bool{},
	}
	for i := range spec.Steps {
		st := &spec.Steps[i]
		s.Steps[i] = StepState{Name: st.Name, Kind: v1alpha1.StepWait}
		s.Timeouts[i] = stepTimeout(st, &spec.Objectives)
		if st.Fault != nil {
			s.Steps[i].Kind = v1alpha1.StepFault
			s.Faults[i] = &FaultState{Step: i, ID: st.Name, Spec: st.Fault, Type: FaultType(st.Fault)}
		}
	}
	if resume != nil {
		for _, name := range resume.Completed {
			s.Resumed[name] = true
		}
	}
	return s
}

// Groups splits steps into groups that start together.
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

// Clone copies the state deeply enough for Snapshot to summarize it while
// the loop goes on: the loop only appends to the shared slices and
// replaces fault states it changes.
func (s *State) Clone() State {
	c := *s
	c.Steps = append([]StepState(nil), s.Steps...)
	c.Faults = make([]*FaultState, len(s.Faults))
	for i, f := range s.Faults {
		if f != nil {
			fc := *f
			fc.Injected = append([]evidence.Target(nil), f.Injected...)
			fc.Replaced = append([]time.Time(nil), f.Replaced...)
			fc.Actions = append([]v1alpha1.ActionResult(nil), f.Actions...)
			fc.Notes = append([]evidence.Event(nil), f.Notes...)
			fc.Err = append([]string(nil), f.Err...)
			c.Faults[i] = &fc
		}
	}
	c.Capacity = s.Capacity[:len(s.Capacity):len(s.Capacity)]
	c.Models = s.Models[:len(s.Models):len(s.Models)]
	c.Events = s.Events[:len(s.Events):len(s.Events)]
	c.Replaced = s.Replaced[:len(s.Replaced):len(s.Replaced)]
	c.Errs = append([]string(nil), s.Errs...)
	return c
}

// Fault is the fault of step id, nil when there is none.
func (s *State) Fault(id string) *FaultState {
	for _, f := range s.Faults {
		if f != nil && f.ID == id {
			return f
		}
	}
	return nil
}
