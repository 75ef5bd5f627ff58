package slo

import "time"

// ErrorClass says why a probe request produced no usable response. The empty
// class means a response arrived (whatever its status code).
type ErrorClass string

const (
	// ClassNone is the class of a request that received a response.
	ClassNone ErrorClass = ""
	// ClassTimeout is a request that hit the probe timeout or a deadline.
	ClassTimeout ErrorClass = "timeout"
	// ClassRefused is a connection refused by the remote host.
	ClassRefused ErrorClass = "refused"
	// ClassReset is a connection reset or closed by the peer mid-request.
	ClassReset ErrorClass = "reset"
	// ClassDNS is a failed name resolution.
	ClassDNS ErrorClass = "dns"
	// ClassOther is any other transport or client error.
	ClassOther ErrorClass = "other"
)

// Sample is one probe request.
type Sample struct {
	// At is when the request was sent.
	At time.Time `json:"at"`
	// Latency runs until the response was read or the request failed; a
	// timed-out request carries the timeout.
	Latency time.Duration `json:"latency"`
	// Code is the HTTP status, 0 when no response arrived.
	Code int `json:"code,omitempty"`
	// Err is empty when a response arrived, else why none did.
	Err ErrorClass `json:"err,omitempty"`
	// Route names the request template the sample was built from.
	Route string `json:"route,omitempty"`
}

// Failed reports whether the request failed: an error, a timeout, or a
// status outside 200–399.
func (s Sample) Failed() bool {
	return s.Err != ClassNone || s.Code < 200 || s.Code >= 400
}

// Good reports whether the request succeeded no slower than threshold.
// A zero threshold judges success only.
func (s Sample) Good(threshold time.Duration) bool {
	return !s.Failed() && (threshold <= 0 || s.Latency <= threshold)
}

// CapacityPoint is the platform's desired versus ready capacity for a
// workload at an instant. A workload keeps the last reported state until the
// next point for it; before its first point it counts as fully ready.
type CapacityPoint struct {
	// At is when the platform reported the state.
	At time.Time `json:"at"`
	// Workload names the workload, for example "Deployment/recommender".
	Workload string `json:"workload"`
	// Desired is the number of replicas the workload should have ready.
	Desired int `json:"desired"`
	// Ready is the number of replicas ready to serve.
	Ready int `json:"ready"`
}

// ModelObservation records which model a replica served at an instant; it
// is the input of the RPO.
type ModelObservation struct {
	// At is when the replica was observed.
	At time.Time `json:"at"`
	// Replica names the replica.
	Replica string `json:"replica"`
	// Version is the served model version.
	Version string `json:"version"`
	// CreatedAt is when that model was published.
	CreatedAt time.Time `json:"createdAt"`
	// Fallback is true when the replica serves its degraded fallback model
	// because no published model could be loaded.
	Fallback bool `json:"fallback,omitempty"`
}

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
	// RTO is the maximum recovery time per fault; 0 means not judged.
	RTO time.Duration `json:"rto,omitempty"`
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

// FaultInput is everything recorded around one fault.
type FaultInput struct {
	// Name names the fault (the plan step).
	Name string `json:"name"`
	// Injected is when the fault took effect.
	Injected time.Time `json:"injected"`
	// Reverted is when the fault was rolled back; zero if never.
	Reverted time.Time `json:"reverted,omitzero"`
	// End is the end of observation for this fault. Zero means just after the
	// last sample.
	End time.Time `json:"end,omitzero"`
	// BaselineFrom starts the Before window; zero means
	// Injected − DefaultBaseline. Engines set it to the previous fault's end
	// when that is later.
	BaselineFrom time.Time `json:"baselineFrom,omitzero"`
	// Replaced is when the platform first scheduled or started replacement
	// capacity; nil when none was reported.
	Replaced *time.Time `json:"replaced,omitempty"`
	// Samples may hold the whole drill; only what the fault needs is used.
	Samples []Sample `json:"samples,omitempty"`
	// Capacity is the whole-drill series of every target workload. Empty
	// means capacity was not tracked for this fault.
	Capacity []CapacityPoint `json:"capacity,omitempty"`
	// Models are model observations for the RPO.
	Models []ModelObservation `json:"models,omitempty"`
	// NewestPublishedBefore is the newest model published before the fault.
	NewestPublishedBefore *ModelObservation `json:"newestPublishedBefore,omitempty"`
}

// Instants are the timeline of one fault. Nil means the instant never came.
type Instants struct {
	// Injected is when the fault took effect.
	Injected time.Time `json:"injected"`
	// Impact is the first SLI breach or loss of ready capacity at or after
	// the injection.
	Impact *time.Time `json:"impact,omitempty"`
	// Replaced is when the platform first scheduled replacement capacity.
	Replaced *time.Time `json:"replaced,omitempty"`
	// Ready is when every target workload was back at its desired ready
	// replicas for good.
	Ready *time.Time `json:"ready,omitempty"`
	// Serving is the send time of the first successful request after the
	// impact.
	Serving *time.Time `json:"serving,omitempty"`
	// Recovered starts the first stable window that met the recovered
	// criteria with capacity back; it is the injection when there was no
	// impact.
	Recovered *time.Time `json:"recovered,omitempty"`
	// Reverted is when the fault was rolled back, if it was.
	Reverted *time.Time `json:"reverted,omitempty"`
}

// WindowStats are the SLIs over the samples sent in [From, To).
type WindowStats struct {
	// From starts the window (inclusive).
	From time.Time `json:"from"`
	// To ends the window (exclusive).
	To time.Time `json:"to"`
	// Requests counts samples sent in the window.
	Requests int `json:"requests"`
	// Failures counts failed samples (errors, timeouts, non-2xx/3xx).
	Failures int `json:"failures"`
	// Timeouts counts samples with ClassTimeout; they are also failures.
	Timeouts int `json:"timeouts"`
	// Slow counts samples slower than the latency objective given to Stats.
	Slow int `json:"slow"`
	// Availability is the success rate in percent; 0 when there were no
	// requests.
	Availability float64 `json:"availability"`
	// P50, P90, P99 and Max are exact nearest-rank latency percentiles over
	// every sample of the window, failed ones included.
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Point is one step of an SLI time series.
type Point struct {
	// At starts the step [At, At+step).
	At time.Time `json:"at"`
	// Requests counts samples sent in the step.
	Requests int `json:"requests"`
	// Failures counts failed samples sent in the step.
	Failures int `json:"failures"`
	// Availability is the success rate in percent; 0 when there were no
	// requests.
	Availability float64 `json:"availability"`
	// P50 is the exact nearest-rank median latency of the step.
	P50 time.Duration `json:"p50"`
	// P99 is the exact nearest-rank p99 latency of the step.
	P99 time.Duration `json:"p99"`
}

// Objective names used in verdicts.
const (
	// ObjectiveRTO judges a fault's recovery time.
	ObjectiveRTO = "rto"
	// ObjectiveRPO judges a fault's model staleness after recovery.
	ObjectiveRPO = "rpo"
	// ObjectiveAvailability judges a window's success rate.
	ObjectiveAvailability = "availability"
	// ObjectiveLatencyP99 judges a window's p99 latency.
	ObjectiveLatencyP99 = "latencyP99"
)

// Verdict judges one measured number against its objective.
type Verdict struct {
	// Objective is one of rto, rpo, availability, latencyP99.
	Objective string `json:"objective"`
	// Target is the objective as written, e.g. "60s" or "99%".
	Target string `json:"target"`
	// Measured is the measured value, or why there is none ("not recovered").
	Measured string `json:"measured"`
	// Pass is true when the measured value meets the target.
	Pass bool `json:"pass"`
	// Reason explains the verdict in a sentence.
	Reason string `json:"reason"`
}

// FaultResult is everything AnalyzeFault measured for one fault.
type FaultResult struct {
	// Name is FaultInput.Name.
	Name string `json:"name"`
	// Instants is the fault's timeline.
	Instants Instants `json:"instants"`
	// ServiceRTO is recovered − injected; 0 when the fault had no impact.
	ServiceRTO *time.Duration `json:"serviceRTO,omitempty"`
	// CapacityRTO is ready − injected; nil when capacity did not come back or
	// was not tracked.
	CapacityRTO *time.Duration `json:"capacityRTO,omitempty"`
	// RecoveryTime is the larger of the two RTOs (ServiceRTO alone when
	// capacity was not tracked); it is what the RTO objective judges.
	RecoveryTime *time.Duration `json:"recoveryTime,omitempty"`
	// Recovered is true when RecoveryTime was reached.
	Recovered bool `json:"recovered"`
	// RPO is the staleness of the oldest model served after recovery against
	// the newest model published before the fault; nil when not measured.
	RPO *time.Duration `json:"rpo,omitempty"`
	// RPOFallback is true when a replica served its fallback model after
	// recovery: maximally stale, RPO fails whatever its target.
	RPOFallback bool `json:"rpoFallback,omitempty"`
	// CapacityTracked is false when no capacity series was given.
	CapacityTracked bool `json:"capacityTracked"`
	// Before is the baseline: [BaselineFrom or Injected − DefaultBaseline, Injected).
	Before WindowStats `json:"before"`
	// During is [Injected, Recovered), or [Injected, End) when not recovered.
	During WindowStats `json:"during"`
	// After is [Recovered, End); empty when not recovered.
	After WindowStats `json:"after"`
	// Verdicts judge the per-fault objectives (rto, rpo) that are set.
	Verdicts []Verdict `json:"verdicts"`
	// Notes explain anything a reader needs to trust the numbers, such as
	// missing data.
	Notes []string `json:"notes,omitempty"`
	// Pass is true when the fault recovered and every verdict passed.
	Pass bool `json:"pass"`
}
