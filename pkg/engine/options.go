package engine

import (
	"errors"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/probe"
	"github.com/firedrill/firedrill/pkg/report"
)

// Options configure an Engine: what every run shares. Zero values are
// documented per field.
type Options struct {
	// JournalDir holds the run journals and the run locks. Required.
	JournalDir string
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Actions runs exec faults; nil means an action.Runner on Clock.
	Actions ActionRunner
	// NewProber builds a run's prober; nil means probe.New.
	NewProber ProberFactory
	// NewJournal opens a run's journal; nil means journal.Create in
	// JournalDir.
	NewJournal JournalFactory
	// HTTPClient fetches placeholder pools from the system under test;
	// nil means a client with a 5 s timeout.
	HTTPClient *http.Client
	// Tool identifies the build in reports.
	Tool report.Tool
	// Tick is how often the loop observes and decides. Default 100ms.
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
	if o.JournalDir == "" && o.NewJournal == nil {
		return errors.New("a journal directory is required")
	}
	return nil
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Actions == nil {
		o.Actions = &action.Runner{Clock: o.Clock}
	}
	if o.NewProber == nil {
		o.NewProber = func(po probe.Options) (Prober, error) { return probe.New(po) }
	}
	if o.NewJournal == nil {
		dir, clk := o.JournalDir, o.Clock
		o.NewJournal = func(rec journal.Record) (Journal, error) { return journal.Create(dir, rec, clk) }
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

// RunOptions configure one run.
type RunOptions struct {
	// Platform runs the faults. Required.
	Platform platform.Platform
	// RunID names the run; empty means NewRunID.
	RunID string
	// Trigger is what started the run; empty means manual.
	Trigger v1alpha1.Trigger
	// Observer receives progress events; nil discards them.
	Observer Observer
	// Resume names an earlier run of the same plan whose completed steps
	// are skipped; nil runs every step.
	Resume *journal.Record
	// Cleanup lists the faults of earlier runs reverted before this one,
	// for the report.
	Cleanup []string
}
