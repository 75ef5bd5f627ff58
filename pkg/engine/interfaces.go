package engine

import (
	"context"
	"time"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/probe"
)

// Prober drives the synthetic load and keeps its samples (*probe.Prober).
type Prober interface {
	// Run sends load until ctx is done.
	Run(ctx context.Context) error
	// AppendSince appends the samples sent at or after t, ordered by send
	// time, to dst.
	AppendSince(dst []evidence.Sample, t time.Time) []evidence.Sample
}

// ProberFactory builds the prober of a run.
type ProberFactory func(opts probe.Options) (Prober, error)

// Journal records a run's faults durably before they are touched
// (*journal.Journal).
type Journal interface {
	// Begin records that fault id is about to be injected on targets.
	Begin(id string, spec v1alpha1.Fault, targets []evidence.Target) error
	// Set records a fault's new state.
	Set(id string, s journal.State, errMsg string) error
	// StepDone records that a step finished.
	StepDone(name string) error
	// Finish marks the run finished with its outcome.
	Finish(outcome string) error
	// Tracker records the runbook actions of fault id while they run, so
	// that cleanup after a crash stops them before it reverts.
	Tracker(id string) action.Tracker
}

// JournalFactory opens the journal of a new run.
type JournalFactory func(rec journal.Record) (Journal, error)

// ActionRunner runs runbook actions (*action.Runner).
type ActionRunner interface {
	// Run runs a with the extra environment variables.
	Run(ctx context.Context, a *v1alpha1.Action, extra map[string]string) (action.Result, error)
}
