package slo

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// Criteria say when a service counts as recovered.
type Criteria struct {
	// SuccessRate is the minimum success rate in percent, e.g. 99.0; zero
	// means not judged.
	SuccessRate float64 `json:"successRate"`
	// LatencyP99 is the maximum p99 latency and also the per-sample latency
	// threshold that makes a sample an SLI breach; zero means not judged.
	LatencyP99 time.Duration `json:"latencyP99"`
	// For is how long the criteria must hold.
	For time.Duration `json:"for"`
}

// Objectives are a plan's targets. Zero values mean "not judged".
type Objectives struct {
	// RTO is the maximum recovery time of a fault's failover; 0 means not
	// judged.
	RTO time.Duration `json:"rto,omitempty"`
	// FailbackRTO is the maximum recovery time after a revert; 0 means
	// not judged.
	FailbackRTO time.Duration `json:"failbackRTO,omitempty"`
	// RPO is the maximum model staleness after recovery; nil means not judged.
	RPO *time.Duration `json:"rpo,omitempty"`
	// Availability is the minimum success rate in percent over the drill; 0
	// means not judged.
	Availability float64 `json:"availability,omitempty"`
	// LatencyP99 is the maximum p99 latency over the drill; 0 means not judged.
	LatencyP99 time.Duration `json:"latencyP99,omitempty"`
	// Recovered defines when a fault counts as recovered, and the steady state
	// the service must be in before the drill.
	Recovered Criteria `json:"recovered"`
}

// DefaultBaseline is the length of a fault's Before window when the input
// does not set BaselineFrom.
const DefaultBaseline = 10 * time.Second

// FaultInput is everything recorded around one recovery: a fault's
// failover (from its injection) or its fail-back (from its revert).
type FaultInput struct {
	// Name names the fault (the plan step).
	Name string `json:"name"`
	// Start is when the fault took effect (the failover) or when its revert
	// did (the fail-back).
	Start time.Time `json:"start"`
	// ImpactFrom is the earliest instant a breach counts as this
	// recovery's impact; zero means Start. It is earlier than Start when
	// the effect time is unknown: an exec fault's inject action and any
	// revert may disrupt the service while they run. The recovery times
	// then run from the earlier of Start and the impact.
	ImpactFrom time.Time `json:"impactFrom,omitzero"`
	// Failback says this is a fail-back: it is judged against FailbackRTO
	// (objective failbackRTO) instead of RTO.
	Failback bool `json:"failback,omitempty"`
	// End is the end of observation for this recovery: the revert of a
	// timed fault ends its failover. Zero means just after the last sample.
	End time.Time `json:"end,omitzero"`
	// BaselineFrom starts the Before window; zero means
	// ImpactFrom − DefaultBaseline. Engines set it to the previous fault's
	// end when that is later.
	BaselineFrom time.Time `json:"baselineFrom,omitzero"`
	// Replaced is when the platform first scheduled or started replacement
	// capacity; nil when none was reported.
	Replaced *time.Time `json:"replaced,omitempty"`
	// Samples may hold the whole drill; only what the fault needs is used.
	Samples []evidence.Sample `json:"samples,omitempty"`
	// Capacity is the whole-drill series of every target workload. Empty
	// means capacity was not tracked for this fault.
	Capacity []evidence.CapacityPoint `json:"capacity,omitempty"`
	// Models are model observations for the RPO.
	Models []evidence.ModelObservation `json:"models,omitempty"`
	// NewestPublishedBefore is the newest model published before the fault.
	NewestPublishedBefore *evidence.ModelObservation `json:"newestPublishedBefore,omitempty"`
}

// impactFrom is ImpactFrom, or Start when unset or later.
func (in FaultInput) impactFrom() time.Time {
	if in.ImpactFrom.IsZero() || in.ImpactFrom.After(in.Start) {
		return in.Start
	}
	return in.ImpactFrom
}

// Point is one step of an SLI time series.
type Point struct {
	// At starts the step [At, At+step).
	At time.Time `json:"at"`
	// Requests counts samples sent in the step.
	Requests int `json:"requests"`
	// Failures counts failed samples sent in the step.
	Failures int `json:"failures"`
	// P50 is the exact nearest-rank median latency of the step.
	P50 metav1.Duration `json:"p50"`
	// P99 is the exact nearest-rank p99 latency of the step.
	P99 metav1.Duration `json:"p99"`
}

// SuccessRate is the step's success rate in percent; 0 when there were no
// requests.
func (p Point) SuccessRate() float64 { return availability(p.Requests-p.Failures, p.Requests) }

// Objective names used in verdicts.
const (
	// ObjectiveRTO judges a fault's failover recovery time.
	ObjectiveRTO = "rto"
	// ObjectiveFailbackRTO judges the recovery time after a revert.
	ObjectiveFailbackRTO = "failbackRTO"
	// ObjectiveRPO judges a fault's model staleness after recovery.
	ObjectiveRPO = "rpo"
	// ObjectiveAvailability judges a window's success rate.
	ObjectiveAvailability = "availability"
	// ObjectiveLatencyP99 judges a window's p99 latency.
	ObjectiveLatencyP99 = "latencyP99"
)
