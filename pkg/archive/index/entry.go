package index

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Phases of a recovery, as entries and the trend name them.
const (
	// Failover is the recovery from the fault itself.
	Failover = "failover"
	// Failback is the recovery from the fault's revert.
	Failback = "fail-back"
)

// Entry is what the index keeps about one archived run.
type Entry struct {
	// Plan is the plan's name.
	Plan string `json:"plan"`
	// RunID names the run; it is unique in an archive.
	RunID string `json:"runID"`
	// PlanHash is the hash of the defaulted plan that ran.
	PlanHash string `json:"planHash,omitempty"`
	// Platform is the platform the run drilled.
	Platform string `json:"platform,omitempty"`
	// Trigger is what started the run.
	Trigger v1alpha1.Trigger `json:"trigger,omitempty"`
	// Phase is the run's final phase.
	Phase v1alpha1.RunPhase `json:"phase"`
	// Verdict is the run's verdict.
	Verdict v1alpha1.Verdict `json:"verdict,omitempty"`
	// Message explains an abort or an error.
	Message string `json:"message,omitempty"`
	// StartTime is when the run started.
	StartTime time.Time `json:"startTime"`
	// CompletionTime is when it finished; zero when it never did.
	CompletionTime time.Time `json:"completionTime,omitzero"`
	// WorstRecovery is the longest recovery against its objective
	// ("12.1s/30s").
	WorstRecovery string `json:"worstRecovery,omitempty"`
	// Availability is the whole drill's success rate in percent.
	Availability v1alpha1.Percent `json:"availability,omitempty"`
	// P99 is the whole drill's p99 latency.
	P99 Duration `json:"p99"`
	// Requests is how many probe requests were sent.
	Requests int `json:"requests"`
	// Faults are the run's fault steps, in plan order.
	Faults []Fault `json:"faults,omitempty"`

	// Path locates the report set in its archive: <plan>/<run-id> in a
	// directory, the reference (repository:tag) in a registry.
	Path string `json:"path"`
	// Digest makes the report set tamper-evident: in a directory the
	// sha256 digest of its SHA256SUMS file, in a registry the manifest's
	// digest.
	Digest string `json:"digest"`
}

// Fault is what the index keeps about one fault step.
type Fault struct {
	// Name is the step's name.
	Name string `json:"name"`
	// Type is the fault type (podKill, regionCutover, ...).
	Type string `json:"type"`
	// Verdict is the fault's verdict.
	Verdict v1alpha1.Verdict `json:"verdict,omitempty"`
	// Error is why injecting or reverting failed.
	Error string `json:"error,omitempty"`
	// Availability is the success rate from injected to the end of
	// observation, revert included.
	Availability v1alpha1.Percent `json:"availability,omitempty"`
	// P99 is the p99 latency over the same window.
	P99 Duration `json:"p99"`
	// Failover is the recovery from the fault.
	Failover *Recovery `json:"failover,omitempty"`
	// Failback is the recovery from its revert.
	Failback *Recovery `json:"failback,omitempty"`
}

// Recovery is what the index keeps about a failover or a fail-back.
type Recovery struct {
	// Recovered is true when the recovery was reached before the end of
	// observation.
	Recovered bool `json:"recovered"`
	// RecoveryTime is max(serviceRTO, capacityRTO); nil when not
	// recovered.
	RecoveryTime *Duration `json:"recoveryTime,omitempty"`
	// Objective is the rto (failbackRTO) the recovery time was judged
	// against; nil when it was not judged.
	Objective *Duration `json:"objective,omitempty"`
	// Availability is the success rate over the recovery's window.
	Availability v1alpha1.Percent `json:"availability,omitempty"`
	// P99 is the p99 latency over the recovery's window.
	P99 Duration `json:"p99"`
	// Verdict is the recovery's verdict.
	Verdict v1alpha1.Verdict `json:"verdict,omitempty"`
}

// Key identifies the entry in its archive: <plan>/<run-id>.
func (e *Entry) Key() string { return e.Plan + "/" + e.RunID }

// Duration is how long the run took; zero when it never finished.
func (e *Entry) Duration() time.Duration {
	if e.CompletionTime.IsZero() || e.StartTime.IsZero() {
		return 0
	}
	return e.CompletionTime.Sub(e.StartTime)
}

// Recovery returns the fault's recovery of the phase (Failover or
// Failback), nil when it has none.
func (f *Fault) Recovery(phase string) *Recovery {
	if phase == Failback {
		return f.Failback
	}
	return f.Failover
}

// FromReport derives the index entry of a report. Path and Digest are the
// archive's to fill in.
func FromReport(r *report.Report) Entry {
	e := Entry{
		Plan: r.Plan.Name, RunID: r.RunID, PlanHash: r.Plan.Hash, Platform: r.Platform, Trigger: r.Trigger,
		Phase: r.Phase, Verdict: r.Verdict, Message: r.Message, WorstRecovery: r.WorstRecovery, Requests: r.Samples,
	}
	if r.StartTime != nil {
		e.StartTime = r.StartTime.UTC()
	}
	if r.CompletionTime != nil {
		e.CompletionTime = r.CompletionTime.UTC()
	}
	if r.Overall != nil {
		e.Availability = r.Overall.Stats.Availability
		e.P99 = Duration{r.Overall.Stats.P99.Duration}
	}
	for _, s := range r.Faults() {
		f := s.Fault
		ef := Fault{Name: s.Name, Type: f.Type, Verdict: f.Verdict, Error: f.Error}
		if f.Window != nil {
			ef.Availability = f.Window.Availability
			ef.P99 = Duration{f.Window.P99.Duration}
		}
		ef.Failover = recoveryOf(f.Failover)
		ef.Failback = recoveryOf(f.Failback)
		e.Faults = append(e.Faults, ef)
	}
	return e
}

func recoveryOf(r *v1alpha1.Recovery) *Recovery {
	if r == nil {
		return nil
	}
	out := &Recovery{
		Recovered: r.Recovered, RecoveryTime: durOf(r.RecoveryTime),
		Availability: r.Window.Availability, P99: Duration{r.Window.P99.Duration}, Verdict: r.Verdict,
	}
	for _, v := range r.Verdicts {
		if v.Objective != slo.ObjectiveRTO && v.Objective != slo.ObjectiveFailbackRTO {
			continue
		}
		if d, err := time.ParseDuration(v.Target); err == nil {
			out.Objective = &Duration{d}
		}
	}
	return out
}
