package engine

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// EventType names what happened.
type EventType string

// Event types, in the order a run produces them.
const (
	EventStarted   EventType = "started"
	EventStep      EventType = "step"
	EventBaseline  EventType = "baseline"
	EventInjected  EventType = "injected"
	EventRecovered EventType = "recovered"
	EventReverted  EventType = "reverted"
	EventProgress  EventType = "progress"
	EventAborting  EventType = "aborting"
	EventFinished  EventType = "finished"
)

// Event is one thing a run tells its observer: a step boundary, a fault
// milestone, or a periodic progress tick with the SLIs now.
type Event struct {
	// RunID is the run it is about.
	RunID string
	// Type says what happened.
	Type EventType
	// At is when; Elapsed is since the run started.
	At      time.Time
	Elapsed time.Duration
	// Step is the step it is about, if any.
	Step string
	// Message describes it for people.
	Message string
	// Live are the SLIs over the last few seconds (progress events).
	Live v1alpha1.WindowStats
	// Active lists the faults in effect.
	Active []string
}

// Observer receives a run's events. It is called from the run's loop
// goroutine, one event at a time, and must not block.
type Observer func(Event)
