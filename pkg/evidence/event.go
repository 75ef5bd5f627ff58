package evidence

import "time"

// EventType names what a platform or the engine observed.
type EventType string

// Events a platform reports while it runs. Each carries the fault it is
// about (Fault), except where noted.
const (
	// EventTookEffect: a fault's first disruptive call succeeded (a pod
	// deleted, an eviction accepted, a workload scaled down). The earliest
	// one is the fault's injected instant.
	EventTookEffect EventType = "TookEffect"
	// EventReplaced: replacement capacity for the fault was scheduled or
	// started (a pod created, a replica process started).
	EventReplaced EventType = "Replaced"
	// EventTrafficSwitched: a cutover moved traffic (Message says where).
	EventTrafficSwitched EventType = "TrafficSwitched"
	// EventModelServed: a replica was seen serving a model (Model). Not
	// tied to a fault.
	EventModelServed EventType = "ModelServed"
	// EventNote: an observation the report shows with the fault (a
	// replica started from its cache during a store outage).
	EventNote EventType = "Note"
)

// Event is one typed observation on a run's timeline.
type Event struct {
	// Type says what happened.
	Type EventType `json:"type"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Fault is the step name of the fault it is about; empty for
	// observations of the whole system (a model served).
	Fault string `json:"fault,omitempty"`
	// Target is the target it is about, when one is.
	Target *Target `json:"target,omitempty"`
	// Message describes it for people.
	Message string `json:"message,omitempty"`
	// Model is the model a replica served (EventModelServed).
	Model *ModelObservation `json:"model,omitempty"`
}

// Recorder receives a platform's events. Record is safe for concurrent use
// and never blocks for long.
type Recorder interface {
	// Record adds an event to the run's timeline.
	Record(ev Event)
}

// RecorderFunc adapts a function to a Recorder.
type RecorderFunc func(Event)

// Record implements Recorder.
func (f RecorderFunc) Record(ev Event) { f(ev) }

// Discard is a Recorder that drops every event.
var Discard Recorder = RecorderFunc(func(Event) {})
