package report

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// SchemaVersion identifies the report.json format. It changes when a field
// changes meaning or is removed.
const SchemaVersion = "firedrill.dev/report/v1"

// Report is everything a run measured.
type Report struct {
	Schema   string `json:"schema"`
	RunID    string `json:"runID"`
	Plan     Plan   `json:"plan"`
	Tool     Tool   `json:"tool"`
	Platform string `json:"platform"`
	Endpoint string `json:"endpoint"`
	// Phase is Succeeded, Failed, Aborted or Error; Verdict is Pass or Fail.
	Phase   v1alpha1.RunPhase `json:"phase"`
	Verdict v1alpha1.Verdict  `json:"verdict"`
	// Message explains an abort or an error.
	Message  string    `json:"message,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Baseline is the steady-state check before the first fault; Final the
	// one after the last.
	Baseline *Check `json:"baseline,omitempty"`
	Final    *Check `json:"final,omitempty"`
	// Overall is the whole drill judged against availability and p99.
	Overall Check `json:"overall"`
	// Steps in plan order.
	Steps []Step `json:"steps"`
	// Series is the per-second SLI series of the whole drill.
	Series []slo.Point `json:"series"`
	// Capacity is the capacity series reported by the platform.
	Capacity []slo.CapacityPoint `json:"capacity,omitempty"`
	// Models are the model observations reported by the platform.
	Models []slo.ModelObservation `json:"models,omitempty"`
	// Samples is how many probe requests were sent.
	Samples int `json:"samples"`
	// Cleanup lists faults of earlier crashed runs reverted at start.
	Cleanup []string `json:"cleanup,omitempty"`
}

// Plan identifies the plan that ran.
type Plan struct {
	Name   string                 `json:"name"`
	Source string                 `json:"source,omitempty"`
	Hash   string                 `json:"hash"`
	Spec   v1alpha1.DrillPlanSpec `json:"spec"`
}

// Tool identifies the firedrill build.
type Tool struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// Check is a window judged against objectives.
type Check struct {
	Stats    slo.WindowStats `json:"stats"`
	Verdicts []slo.Verdict   `json:"verdicts"`
	Pass     bool            `json:"pass"`
}

// Step is one step's outcome.
type Step struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"` // wait or fault
	Phase    v1alpha1.RunPhase `json:"phase"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Fault    *Fault            `json:"fault,omitempty"`
	Message  string            `json:"message,omitempty"`
}

// Fault is what was done and measured for one fault.
type Fault struct {
	Type     string            `json:"type"`
	Targets  []platform.Target `json:"targets"`
	Injected time.Time         `json:"injected"`
	Reverted *time.Time        `json:"reverted,omitempty"`
	// Result is the measurement from injection on.
	Result slo.FaultResult `json:"result"`
	// Window is the SLIs from injection to the end of observation (the
	// revert and its recovery included).
	Window slo.WindowStats `json:"window"`
	// AfterRevert measures the recovery from the revert of a timed fault
	// (a region fail-back, for example).
	AfterRevert *slo.FaultResult `json:"afterRevert,omitempty"`
	// Actions are the runbook actions run for the fault.
	Actions []Action `json:"actions,omitempty"`
	// Notes are platform observations (a replica started from its cache).
	Notes []string `json:"notes,omitempty"`
	// Error is why injection or revert failed.
	Error string `json:"error,omitempty"`
}

// Action is one runbook action run for a fault.
type Action struct {
	Phase    string        `json:"phase"` // inject or revert
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	ExitCode int           `json:"exitCode,omitempty"`
	Status   int           `json:"status,omitempty"`
	Output   string        `json:"output,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// ExitCode is the process exit code for a report: 0 when every objective
// held, 1 when one failed, 2 when the run was aborted or broken.
func (r *Report) ExitCode() int {
	switch r.Phase {
	case v1alpha1.RunSucceeded:
		return 0
	case v1alpha1.RunFailed:
		return 1
	default:
		return 2
	}
}

// Faults returns the steps that injected a fault.
func (r *Report) Faults() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Fault != nil {
			out = append(out, s)
		}
	}
	return out
}
