package engine

import (
	"errors"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
)

// Options configure an Engine. Zero values are documented per field.
type Options struct {
	// Platform runs the faults. Required.
	Platform platform.Platform
	// JournalDir holds the run journals. Required.
	JournalDir string
	// RunID names the run; empty means <plan>-<UTC timestamp>.
	RunID string
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Observer receives progress events; nil discards them.
	Observer Observer
	// Actions runs exec faults; nil means a default Runner.
	Actions *action.Runner
	// HTTPClient fetches placeholder pools from the system under test;
	// nil means a client with a 5 s timeout.
	HTTPClient *http.Client
	// Resume names an earlier run of the same plan whose completed steps
	// are skipped; empty runs every step.
	Resume *journal.Record
	// Tool identifies the build in reports.
	Tool report.Tool
	// Tick is how often a fault's recovery is re-evaluated. Default 100ms.
	Tick time.Duration
	// CapacityInterval is how often capacity is sampled. Default 200ms.
	CapacityInterval time.Duration
	// ProgressInterval is how often a progress event is sent. Default 1s.
	ProgressInterval time.Duration
	// RevertTimeout bounds reverting every fault at the end or on abort.
	// Default 2m.
	RevertTimeout time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.Platform == nil {
		errs = append(errs, errors.New("a platform is required"))
	}
	if o.JournalDir == "" {
		errs = append(errs, errors.New("a journal directory is required"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Observer == nil {
		o.Observer = func(Event) {}
	}
	if o.Actions == nil {
		o.Actions = &action.Runner{Clock: o.Clock}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.CapacityInterval <= 0 {
		o.CapacityInterval = 200 * time.Millisecond
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	if o.RevertTimeout <= 0 {
		o.RevertTimeout = 2 * time.Minute
	}
}
