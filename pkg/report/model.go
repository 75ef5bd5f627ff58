package report

import (
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/slo"
)

// SchemaVersion identifies the report.json format. It changes when a field
// changes meaning or is removed. v2: results are v1alpha1.RunResult
// (durations are Go duration strings, instants RFC 3339 with microseconds),
// each fault has a failover and a fail-back.
const SchemaVersion = "firedrill.dev/report/v2"

// Report is everything a run measured.
type Report struct {
	// Schema is SchemaVersion.
	Schema string `json:"schema"`
	// RunID names the run.
	RunID string `json:"runID"`
	// Plan is the plan that ran.
	Plan Plan `json:"plan"`
	// Tool is the firedrill build that ran it.
	Tool Tool `json:"tool"`
	// Platform is the platform's name.
	Platform string `json:"platform"`
	// Endpoint is where the probes sent traffic.
	Endpoint string `json:"endpoint"`
	// Trigger is what started the run: manual, schedule or api.
	Trigger v1alpha1.Trigger `json:"trigger,omitempty"`

	// RunResult holds the phase, the verdict and every measured result;
	// DrillRun.status carries the same fields.
	v1alpha1.RunResult `json:",inline"`

	// Series is the per-second SLI series of the whole drill.
	Series []slo.Point `json:"series"`
	// Capacity is the capacity series reported by the platform.
	Capacity []evidence.CapacityPoint `json:"capacity,omitempty"`
	// Models are the model observations reported by the platform.
	Models []evidence.ModelObservation `json:"models,omitempty"`
	// Events are the platform's observations, in order (a fault took
	// effect, traffic switched, a note).
	Events []evidence.Event `json:"events,omitempty"`
	// Samples is how many probe requests were sent.
	Samples int `json:"samples"`
	// Cleanup lists faults of earlier crashed runs reverted at start.
	Cleanup []string `json:"cleanup,omitempty"`
}

// Plan identifies the plan that ran.
type Plan struct {
	// Name of the plan.
	Name string `json:"name"`
	// Source is the file or object it came from.
	Source string `json:"source,omitempty"`
	// Hash of the defaulted spec.
	Hash string `json:"hash"`
	// Spec is the defaulted plan.
	Spec v1alpha1.DrillPlanSpec `json:"spec"`
}

// Tool identifies the firedrill build.
type Tool struct {
	// Version is the release or git describe.
	Version string `json:"version"`
	// Commit is the git commit.
	Commit string `json:"commit"`
	// GoVersion is the Go toolchain.
	GoVersion string `json:"goVersion"`
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
func (r *Report) Faults() []v1alpha1.StepResult {
	var out []v1alpha1.StepResult
	for _, s := range r.Steps {
		if s.Fault != nil {
			out = append(out, s)
		}
	}
	return out
}
