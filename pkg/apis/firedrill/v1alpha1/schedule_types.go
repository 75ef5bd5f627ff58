package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConcurrencyPolicy says what a fire of a plan's schedule does while a run
// of the plan is active.
// +kubebuilder:validation:Enum=Forbid;Allow;Replace
type ConcurrencyPolicy string

const (
	// ConcurrencyForbid holds the fire back until the active runs finish;
	// it starts then if it is still within startingDeadlineSeconds.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyAllow starts a run alongside the active ones. It needs
	// safety.allowConcurrentRuns, or the engine refuses the second run.
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyReplace aborts the active runs, which revert their faults,
	// and starts the fire's run once they have finished.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// ScheduleStatus is what a plan's schedule did and does next. It is inlined
// in DrillPlanStatus; pkg/scheduler computes it from the previous one, the
// plan's runs and the time.
type ScheduleStatus struct {
	// LastScheduleTime is the scheduled time of the latest fire that
	// started a run (not when the run started: a late fire keeps its
	// time).
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// NextScheduleTime is the earliest fire that has neither started nor
	// been recorded as missed. It is in the past while that fire waits for
	// active runs (concurrencyPolicy Forbid or Replace), and unset when the
	// plan has no schedule, is suspended, or never fires again.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// LastSuccessfulTime is when the latest run of the plan that succeeded
	// completed, scheduled or not.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// Active are the runs of the plan that have not finished, oldest fire
	// first; runs not started by the schedule come last, by name.
	// +listType=map
	// +listMapKey=name
	// +optional
	Active []RunReference `json:"active,omitempty"`

	// Missed is the latest fire that did not start, and why.
	// +optional
	Missed *MissedSchedule `json:"missed,omitempty"`
}

// RunReference points at a DrillRun of a plan.
type RunReference struct {
	// Name of the DrillRun, in the plan's namespace.
	// +required
	Name string `json:"name"`

	// ScheduledTime is the fire the run was created for; unset for a run
	// not started by the schedule.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
}

// MissedReason says why a fire did not start.
// +kubebuilder:validation:Enum=DeadlineExceeded;Superseded
type MissedReason string

const (
	// MissedDeadlineExceeded is a fire that could not start within
	// startingDeadlineSeconds: drill serve was not running, or active runs
	// held it back (concurrencyPolicy Forbid or Replace) for too long.
	MissedDeadlineExceeded MissedReason = "DeadlineExceeded"
	// MissedSuperseded is a fire that had not started when a later fire
	// came due: only the latest due fire may start late.
	MissedSuperseded MissedReason = "Superseded"
)

// MaxMissedCount is where MissedSchedule.Count stops counting.
const MaxMissedCount = 1000

// MissedSchedule records fires that did not start.
type MissedSchedule struct {
	// ScheduleTime is the latest fire that did not start.
	// +required
	ScheduleTime metav1.Time `json:"scheduleTime"`

	// Reason why ScheduleTime did not start.
	// +required
	Reason MissedReason `json:"reason"`

	// Count is how many fires in a row did not start, ending with
	// ScheduleTime, since the last one that did. Counting stops at 1000:
	// 1000 means 1000 or more.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +required
	Count int32 `json:"count"`

	// Message says what happened, for people.
	// +optional
	Message string `json:"message,omitempty"`
}
