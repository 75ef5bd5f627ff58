package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunResult is what a run measured and decided. DrillRun.status embeds it
// and report.json carries it: both are built by the same pure function of
// the run's state, so they never disagree.
type RunResult struct {
	// Phase of the run.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`

	// Verdict over every objective of the run. An Aborted or Error run is
	// never Pass.
	// +optional
	Verdict Verdict `json:"verdict,omitempty"`

	// Message explains an abort or an error, stating its cause once.
	// +optional
	Message string `json:"message,omitempty"`

	// StartTime of the run.
	// +optional
	StartTime *metav1.MicroTime `json:"startTime,omitempty"`

	// CompletionTime of the run; absent while it runs.
	// +optional
	CompletionTime *metav1.MicroTime `json:"completionTime,omitempty"`

	// CurrentStep is the step in progress while the run is Running.
	// +optional
	CurrentStep string `json:"currentStep,omitempty"`

	// WorstRecovery is the longest recovery time of any fault against its
	// objective, as "12.1s/30s" (or "not recovered/30s"), for kubectl.
	// +optional
	WorstRecovery string `json:"worstRecovery,omitempty"`

	// Baseline is the steady state judged before the first fault.
	// +optional
	Baseline *CheckResult `json:"baseline,omitempty"`

	// Final is the steady state judged after the last fault.
	// +optional
	Final *CheckResult `json:"final,omitempty"`

	// Overall is the whole drill judged against availability and p99.
	// +optional
	Overall *CheckResult `json:"overall,omitempty"`

	// Steps are the results of each step, in plan order.
	// +optional
	Steps []StepResult `json:"steps,omitempty"`
}

// CheckResult is a window of the drill judged against objectives.
type CheckResult struct {
	// Stats are the SLIs over the window.
	Stats WindowStats `json:"stats"`
	// Verdicts judge each objective that applies.
	// +optional
	Verdicts []ObjectiveVerdict `json:"verdicts,omitempty"`
	// Verdict is Pass when every verdict passed.
	Verdict Verdict `json:"verdict"`
}

// StepKind says what a step does.
// +kubebuilder:validation:Enum=wait;fault
type StepKind string

const (
	// StepWait waits while the load runs.
	StepWait StepKind = "wait"
	// StepFault injects a fault.
	StepFault StepKind = "fault"
)

// StepResult is the outcome of one step.
type StepResult struct {
	// Name of the step.
	Name string `json:"name"`
	// Kind of the step.
	// +optional
	Kind StepKind `json:"kind,omitempty"`
	// Phase of the step.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`
	// StartTime of the step.
	// +optional
	StartTime *metav1.MicroTime `json:"startTime,omitempty"`
	// CompletionTime of the step.
	// +optional
	CompletionTime *metav1.MicroTime `json:"completionTime,omitempty"`
	// Fault is the result of the step's fault, if it has one.
	// +optional
	Fault *FaultResult `json:"fault,omitempty"`
	// Message explains a failure or a skip.
	// +optional
	Message string `json:"message,omitempty"`
}

// FaultTarget is one thing a fault acted on.
type FaultTarget struct {
	// Kind is pod, node, region, store, chaos or action.
	Kind string `json:"kind"`
	// Name identifies the target on its platform.
	Name string `json:"name"`
	// Region the target is in, when known.
	// +optional
	Region string `json:"region,omitempty"`
}

// FaultResult is what was done and measured for one fault.
type FaultResult struct {
	// Type of the fault: podKill, nodeDrain, gpuFailure, regionCutover,
	// modelStoreOutage, exec or chaosMesh.
	Type string `json:"type"`
	// Targets the fault acted on.
	// +optional
	Targets []FaultTarget `json:"targets,omitempty"`
	// Injected is when the fault took effect: its first disruptive call
	// that succeeded, or, for an exec fault, when its inject action
	// finished.
	// +optional
	Injected *metav1.MicroTime `json:"injected,omitempty"`
	// Reverted is when firedrill started to undo the fault, or, for an exec
	// fault, when its revert action finished. Absent when nothing was
	// reverted (a pod kill, an exec fault without a revert action).
	// +optional
	Reverted *metav1.MicroTime `json:"reverted,omitempty"`
	// RevertFinished is when the revert returned (a region back and
	// traffic failed back); absent when nothing was reverted.
	// +optional
	RevertFinished *metav1.MicroTime `json:"revertFinished,omitempty"`
	// Failover is the recovery from the fault itself, measured from
	// injected until the revert began (a timed fault: its hold) or until
	// the end of observation.
	// +optional
	Failover *Recovery `json:"failover,omitempty"`
	// Failback is the recovery from the revert's own disruption (a region
	// coming back, a store restarting), measured from reverted. Absent
	// when nothing was reverted.
	// +optional
	Failback *Recovery `json:"failback,omitempty"`
	// Window are the SLIs from injected to the end of observation (the
	// revert and its recovery included).
	// +optional
	Window *WindowStats `json:"window,omitempty"`
	// Actions are the runbook actions run for the fault.
	// +optional
	Actions []ActionResult `json:"actions,omitempty"`
	// Notes are the platform's observations about the fault.
	// +optional
	Notes []string `json:"notes,omitempty"`
	// Error is why injecting or reverting failed.
	// +optional
	Error string `json:"error,omitempty"`
	// Verdict is Pass when the failover and the fail-back recovered within
	// their objectives and nothing failed.
	// +optional
	Verdict Verdict `json:"verdict,omitempty"`
}

// Recovery is one measured recovery: a fault's failover or its fail-back.
// See docs/spec/v1alpha1/drillrun.md for the definitions.
type Recovery struct {
	// Start is the instant the recovery times run from: injected (for a
	// fail-back, reverted), or the impact when it came earlier, which only
	// an exec fault's or a revert's impact can.
	// +optional
	Start *metav1.MicroTime `json:"start,omitempty"`
	// End is the end of observation for this recovery.
	// +optional
	End *metav1.MicroTime `json:"end,omitempty"`
	// Instants of recovery.
	Instants RecoveryInstants `json:"instants"`
	// ServiceRTO is recovered − start.
	// +optional
	ServiceRTO *metav1.Duration `json:"serviceRTO,omitempty"`
	// CapacityRTO is ready − start.
	// +optional
	CapacityRTO *metav1.Duration `json:"capacityRTO,omitempty"`
	// RecoveryTime is the larger of ServiceRTO and CapacityRTO (ServiceRTO
	// alone when capacity is not tracked); it is what the objective judges.
	// +optional
	RecoveryTime *metav1.Duration `json:"recoveryTime,omitempty"`
	// Recovered is true when RecoveryTime was reached before End.
	Recovered bool `json:"recovered"`
	// RPO is the staleness of the oldest model served after recovery
	// against the newest model published before the fault.
	// +optional
	RPO *metav1.Duration `json:"rpo,omitempty"`
	// RPOFallback is true when a replica served its fallback model after
	// recovery.
	// +optional
	RPOFallback bool `json:"rpoFallback,omitempty"`
	// CapacityTracked is false when the platform reported no capacity.
	CapacityTracked bool `json:"capacityTracked"`
	// Window are the SLIs over [start, end): what users saw during this
	// recovery.
	Window WindowStats `json:"window"`
	// Before is the baseline: the window before the fault.
	Before WindowStats `json:"before"`
	// During is [start, recovered), or [start, end) when not recovered.
	During WindowStats `json:"during"`
	// After is [recovered, end); empty when not recovered.
	After WindowStats `json:"after"`
	// Verdicts judge the objectives of this recovery (rto or failbackRTO,
	// and rpo).
	// +optional
	Verdicts []ObjectiveVerdict `json:"verdicts,omitempty"`
	// Notes explain anything a reader needs to trust the numbers.
	// +optional
	Notes []string `json:"notes,omitempty"`
	// Verdict is Pass when the recovery was reached and every verdict
	// passed.
	Verdict Verdict `json:"verdict"`
}

// RecoveryInstants are the instants of one recovery; an instant that never
// came is absent. See the DrillRun spec page for their exact meaning.
type RecoveryInstants struct {
	// Impact is the first SLI breach or loss of ready capacity.
	// +optional
	Impact *metav1.MicroTime `json:"impact,omitempty"`
	// Replaced is when replacement capacity was scheduled or started.
	// +optional
	Replaced *metav1.MicroTime `json:"replaced,omitempty"`
	// Ready is when every target workload was back at its desired ready
	// replicas for good.
	// +optional
	Ready *metav1.MicroTime `json:"ready,omitempty"`
	// Serving is the send time of the first successful request after the
	// impact.
	// +optional
	Serving *metav1.MicroTime `json:"serving,omitempty"`
	// Recovered starts the first window of recovered.for that met the
	// recovered criteria with capacity back; it is the start when there
	// was no impact.
	// +optional
	Recovered *metav1.MicroTime `json:"recovered,omitempty"`
}

// WindowStats are the SLIs over the probe samples sent in [from, to).
type WindowStats struct {
	// From starts the window (inclusive).
	// +optional
	From *metav1.MicroTime `json:"from,omitempty"`
	// To ends the window (exclusive).
	// +optional
	To *metav1.MicroTime `json:"to,omitempty"`
	// Requests counts the samples sent in the window.
	Requests int64 `json:"requests"`
	// Failures counts failed samples (errors, timeouts, non-2xx/3xx).
	Failures int64 `json:"failures"`
	// Timeouts counts timed-out samples; they are failures too.
	Timeouts int64 `json:"timeouts"`
	// Slow counts samples slower than the latency objective.
	Slow int64 `json:"slow"`
	// Availability is the success rate in percent, truncated to three
	// decimals ("99.6"); empty when there were no requests.
	// +optional
	Availability Percent `json:"availability,omitempty"`
	// P50 is the exact nearest-rank median latency over every sample.
	P50 metav1.Duration `json:"p50"`
	// P90 is the exact nearest-rank p90 latency.
	P90 metav1.Duration `json:"p90"`
	// P99 is the exact nearest-rank p99 latency.
	P99 metav1.Duration `json:"p99"`
	// Max is the slowest sample.
	Max metav1.Duration `json:"max"`
}

// ActionResult is one runbook action run for a fault.
type ActionResult struct {
	// Phase is inject or revert.
	Phase string `json:"phase"`
	// StartTime is when the action started.
	// +optional
	StartTime *metav1.MicroTime `json:"startTime,omitempty"`
	// CompletionTime is when it finished.
	// +optional
	CompletionTime *metav1.MicroTime `json:"completionTime,omitempty"`
	// ExitCode of a command; -1 when it did not exit by itself.
	// +optional
	ExitCode int32 `json:"exitCode,omitempty"`
	// Status of a webhook response.
	// +optional
	Status int32 `json:"status,omitempty"`
	// Output is the tail of the output, secrets redacted.
	// +optional
	Output string `json:"output,omitempty"`
	// Error says why the action failed.
	// +optional
	Error string `json:"error,omitempty"`
}
