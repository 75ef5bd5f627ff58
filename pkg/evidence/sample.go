package evidence

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
