package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Trigger says what started a run.
// +kubebuilder:validation:Enum=manual;schedule;api
type Trigger string

const (
	// TriggerManual is a run started by a person (drill run, kubectl).
	TriggerManual Trigger = "manual"
	// TriggerSchedule is a run started by the plan's cron schedule.
	TriggerSchedule Trigger = "schedule"
	// TriggerAPI is a run started through drill serve's HTTP API.
	TriggerAPI Trigger = "api"
)

// DrillRunSpec says which plan to run and why.
// +kubebuilder:validation:XValidation:rule="has(self.planRef) != has(self.plan)",message="exactly one of planRef and plan must be set"
type DrillRunSpec struct {
	// PlanRef names a DrillPlan in the run's namespace.
	// +optional
	PlanRef *PlanReference `json:"planRef,omitempty"`

	// Plan is an inline plan.
	// +optional
	Plan *DrillPlanSpec `json:"plan,omitempty"`

	// Trigger is what started the run. Defaults to manual.
	// +optional
	Trigger Trigger `json:"trigger,omitempty"`

	// DryRun resolves targets and records what would happen, touching
	// nothing.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// PlanReference names a DrillPlan.
type PlanReference struct {
	// Name of the DrillPlan.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
}

// RunPhase is where a run is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Aborted;Error
type RunPhase string

const (
	// RunPending has not started.
	RunPending RunPhase = "Pending"
	// RunRunning is in progress.
	RunRunning RunPhase = "Running"
	// RunSucceeded finished and every objective held.
	RunSucceeded RunPhase = "Succeeded"
	// RunFailed finished and at least one objective failed.
	RunFailed RunPhase = "Failed"
	// RunAborted was stopped by an abort condition or a signal; every active
	// fault was reverted.
	RunAborted RunPhase = "Aborted"
	// RunError could not run (bad target, unreachable platform).
	RunError RunPhase = "Error"
)

// Verdict is the outcome of a judgement.
// +kubebuilder:validation:Enum=Pass;Fail;NotJudged
type Verdict string

const (
	// VerdictPass means the objective held.
	VerdictPass Verdict = "Pass"
	// VerdictFail means the objective did not hold.
	VerdictFail Verdict = "Fail"
	// VerdictNotJudged means there was nothing to judge.
	VerdictNotJudged Verdict = "NotJudged"
)

// DrillRunStatus is the observed state of a run.
type DrillRunStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase of the run.
	// +optional
	Phase RunPhase `json:"phase,omitempty"`

	// Verdict over every objective of the run.
	// +optional
	Verdict Verdict `json:"verdict,omitempty"`

	// StartTime of the run.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime of the run.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Steps are the results of each step, in plan order.
	// +optional
	Steps []StepResult `json:"steps,omitempty"`

	// Report points at the archived evidence report.
	// +optional
	Report *ReportReference `json:"report,omitempty"`

	// Message explains an abort or an error.
	// +optional
	Message string `json:"message,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// StepResult is the outcome of one step.
type StepResult struct {
	// Name of the step.
	Name string `json:"name"`
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
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// FaultResult is what was measured for one fault.
type FaultResult struct {
	// Type of the fault (podKill, nodeDrain, ...).
	Type string `json:"type"`
	// Targets the fault acted on.
	// +optional
	Targets []string `json:"targets,omitempty"`
	// Instants of recovery.
	Instants RecoveryInstants `json:"instants"`
	// ServiceRTO is recovered − injected.
	// +optional
	ServiceRTO *metav1.Duration `json:"serviceRTO,omitempty"`
	// CapacityRTO is ready − injected.
	// +optional
	CapacityRTO *metav1.Duration `json:"capacityRTO,omitempty"`
	// RecoveryTime is the larger of ServiceRTO and CapacityRTO.
	// +optional
	RecoveryTime *metav1.Duration `json:"recoveryTime,omitempty"`
	// RPO is the model staleness after recovery.
	// +optional
	RPO *metav1.Duration `json:"rpo,omitempty"`
	// Reverted is when the fault was rolled back.
	// +optional
	Reverted *metav1.MicroTime `json:"reverted,omitempty"`
	// Verdicts per objective.
	// +optional
	Verdicts []ObjectiveVerdict `json:"verdicts,omitempty"`
}

// RecoveryInstants are the instants recorded for a fault; see the DrillRun
// spec page for their exact meaning.
type RecoveryInstants struct {
	// Injected is when the fault took effect.
	Injected *metav1.MicroTime `json:"injected,omitempty"`
	// Impact is the first SLI breach or loss of ready capacity.
	// +optional
	Impact *metav1.MicroTime `json:"impact,omitempty"`
	// Replaced is when replacement capacity was scheduled or started.
	// +optional
	Replaced *metav1.MicroTime `json:"replaced,omitempty"`
	// Ready is when every target workload was back at its desired ready
	// replicas.
	// +optional
	Ready *metav1.MicroTime `json:"ready,omitempty"`
	// Serving is the first successful request after the impact.
	// +optional
	Serving *metav1.MicroTime `json:"serving,omitempty"`
	// Recovered is the start of the first stable window that met the
	// recovered criteria with capacity back.
	// +optional
	Recovered *metav1.MicroTime `json:"recovered,omitempty"`
}

// ObjectiveVerdict judges one objective.
type ObjectiveVerdict struct {
	// Objective is rto, rpo, availability or latencyP99.
	Objective string `json:"objective"`
	// Target is the objective's value.
	// +optional
	Target string `json:"target,omitempty"`
	// Measured is the measured value.
	// +optional
	Measured string `json:"measured,omitempty"`
	// Verdict of the judgement.
	Verdict Verdict `json:"verdict"`
	// Reason explains the verdict.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ReportReference points at an archived report.
type ReportReference struct {
	// Path of the report directory on the archive volume.
	// +optional
	Path string `json:"path,omitempty"`
	// URL of the report served by drill serve.
	// +optional
	URL string `json:"url,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dr,categories=firedrill
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.spec.planRef.name`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.trigger`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Verdict",type=string,JSONPath=`.status.verdict`
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.startTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DrillRun is one execution of a DrillPlan.
type DrillRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to run.
	Spec DrillRunSpec `json:"spec"`
	// Status is what happened.
	// +optional
	Status DrillRunStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DrillRunList is a list of DrillRuns.
type DrillRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the runs.
	Items []DrillRun `json:"items"`
}
