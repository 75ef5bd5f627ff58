package engine

import (
	"time"

	"github.com/firedrill/firedrill/pkg/slo"
)

// EventType names what happened.
type EventType string

// Event types, in the order a run produces them.
const (
	EventStarted   EventType = "started"
	EventCleanup   EventType = "cleanup"
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
	Type    EventType
	At      time.Time
	Elapsed time.Duration
	Step    string
	Message string
	// Live are the SLIs over the last few seconds (progress events).
	Live slo.WindowStats
	// Active lists the faults in effect.
	Active []string
}

// Observer receives events. It is called from several goroutines, one
// event at a time, and must not block.
type Observer func(Event)
