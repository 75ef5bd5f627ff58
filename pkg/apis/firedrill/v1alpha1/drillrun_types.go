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
// +kubebuilder:validation:XValidation:rule="has(self.scheduledTime) == (has(self.trigger) && self.trigger == 'schedule')",message="scheduledTime is set exactly when trigger is schedule"
// +kubebuilder:validation:XValidation:rule="!has(self.trigger) || self.trigger != 'schedule' || has(self.planRef)",message="a run started by the schedule references its plan with planRef"
// +kubebuilder:validation:XValidation:rule="!has(self.planHash) || has(self.planRef)",message="planHash is only allowed with planRef"
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

	// ScheduledTime is the fire of the plan's schedule the run was created
	// for; it is set exactly when Trigger is schedule. The run's name is
	// derived from it (pkg/scheduler.RunName), so a fire creates one run.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`

	// PlanHash is the sha256 of the referenced plan's defaulted spec when
	// the run was created (pkg/plan's Plan.Hash), so that a later edit of
	// the plan is seen rather than rewriting what the run stands for. Only
	// allowed with PlanRef.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +optional
	PlanHash string `json:"planHash,omitempty"`

	// Abort asks drill serve to stop the run: every active fault is
	// reverted at once and the run ends Aborted. A run that has not
	// started yet ends Aborted without touching anything; a finished run
	// is left as it is. drill abort sets it.
	// +optional
	Abort bool `json:"abort,omitempty"`
}

// PlanReference names a DrillPlan.
type PlanReference struct {
	// Name of the DrillPlan.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
}

// RunPhase is where a run is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Aborted;Error;Interrupted
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
	// RunInterrupted was cut short because the drill serve replica that
	// ran it stopped without finishing it (a crash, kill -9, a lost
	// leader lease); the next leader reverted every fault it had left
	// active. Only drill serve decides it, never the engine.
	RunInterrupted RunPhase = "Interrupted"
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

	// RunResult is what the run measured so far, and at the end what it
	// decided; report.json carries the same fields.
	RunResult `json:",inline"`

	// Report points at the archived evidence report.
	// +optional
	Report *ReportReference `json:"report,omitempty"`

	// Runner is the drill serve replica that runs the drill (its identity,
	// hostname_uuid), set when the run starts. Only the leader runs
	// drills: a leader that finds a Running run it does not hold reverts
	// its faults and marks it Interrupted.
	// +optional
	Runner string `json:"runner,omitempty"`

	// PlanSpec is the defaulted plan the run executes, stored when it
	// starts and removed when it ends (the report keeps it), so that
	// reverting the run's faults after a crash does not depend on the
	// DrillPlan, which may have been edited or deleted since. It is stored
	// without a schema: spec.plan and the DrillPlan are validated.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	PlanSpec *DrillPlanSpec `json:"planSpec,omitempty"`

	// Journal records each fault of the run before it is touched and as
	// it changes, written by drill serve before the inject starts, so that
	// the next leader knows what to revert after a crash. A fault with
	// nothing to revert (a pod kill) stays Active until the run ends.
	// +listType=map
	// +listMapKey=step
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Journal []JournalEntry `json:"journal,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// FaultState is where a journaled fault is in its life.
// +kubebuilder:validation:Enum=Injecting;Active;Reverting;Reverted
type FaultState string

const (
	// FaultInjecting is about to be injected, or partly injected.
	FaultInjecting FaultState = "Injecting"
	// FaultActive is in effect.
	FaultActive FaultState = "Active"
	// FaultReverting is being reverted, or its revert failed.
	FaultReverting FaultState = "Reverting"
	// FaultReverted is undone.
	FaultReverted FaultState = "Reverted"
)

// JournalEntry is one fault of a run as the journal knows it.
type JournalEntry struct {
	// Step is the fault's step.
	// +required
	Step string `json:"step"`
	// State of the fault. Injecting, Active and Reverting are unfinished:
	// a crash leaves them to revert.
	// +required
	State FaultState `json:"state"`
	// Targets the fault acts on.
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Targets []FaultTarget `json:"targets,omitempty"`
	// Error is why the last revert failed.
	// +optional
	Error string `json:"error,omitempty"`
}

// ObjectiveVerdict judges one objective.
type ObjectiveVerdict struct {
	// Objective is rto, failbackRTO, rpo, availability or latencyP99.
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
// +kubebuilder:printcolumn:name="Scheduled",type=date,JSONPath=`.spec.scheduledTime`,priority=1
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Verdict",type=string,JSONPath=`.status.verdict`
// +kubebuilder:printcolumn:name="Recovery",type=string,JSONPath=`.status.worstRecovery`,description="Worst recovery time against its objective"
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.currentStep`,priority=1
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
