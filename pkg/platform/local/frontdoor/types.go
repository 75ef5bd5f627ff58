package frontdoor

import "time"

// Backend is one replica behind the front door.
type Backend struct {
	// Name of the replica.
	Name string `json:"name"`
	// URL is the replica's base URL (http://127.0.0.1:port).
	URL string `json:"url"`
	// Healthy is the last health verdict (state only).
	Healthy bool `json:"healthy,omitempty"`
}

// Region is an ordered group of backends.
type Region struct {
	// Name of the region.
	Name string `json:"name"`
	// Backends of the region.
	Backends []Backend `json:"backends"`
}

// Regions is the body of PUT /v1/regions: every region in failover order.
type Regions struct {
	Regions []Region `json:"regions"`
}

// SwitchRequest is the body of POST /v1/switch.
type SwitchRequest struct {
	// Region pins traffic to a region (manual mode); empty returns to
	// automatic, health-based failover.
	Region string `json:"region"`
}

// Mode names how the active region is chosen.
type Mode string

const (
	// ModeAuto prefers the primary region and fails over by health.
	ModeAuto Mode = "auto"
	// ModeManual sends every request to the pinned region.
	ModeManual Mode = "manual"
)

// Switch records a change of the active region.
type Switch struct {
	// At is when traffic moved.
	At time.Time `json:"at"`
	// From is the region traffic left ("" at start).
	From string `json:"from"`
	// To is the region traffic moved to ("" when none is healthy).
	To string `json:"to"`
	// Reason says why: health or manual.
	Reason string `json:"reason"`
}

// State is the body of GET /v1/state.
type State struct {
	// Mode is auto or manual.
	Mode Mode `json:"mode"`
	// Primary is the preferred region.
	Primary string `json:"primary"`
	// Pinned is the region of manual mode.
	Pinned string `json:"pinned,omitempty"`
	// Active is the region receiving traffic now ("" when none).
	Active string `json:"active"`
	// Regions with the health of every backend.
	Regions []Region `json:"regions"`
	// Switches is the history of active-region changes.
	Switches []Switch `json:"switches"`
	// Requests is how many requests were proxied; Retries how many were
	// retried on another backend; Failures how many got no backend answer.
	Requests, Retries, Failures int64
}
