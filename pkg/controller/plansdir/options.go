package plansdir

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/engine/cleanup"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// Drill is a run in progress (*engine.Run).
type Drill interface {
	// Snapshot is the report as of now.
	Snapshot() *report.Report
	// Abort stops the run; every active fault is reverted.
	Abort(reason string)
	// Done is closed when the run has finished.
	Done() <-chan struct{}
	// Wait returns the final report once the run has finished.
	Wait() (*report.Report, error)
}

// Starter starts a drill of p (engine.Engine.Start). Nothing is touched
// when it fails.
type Starter func(ctx context.Context, p *plan.Plan, ro engine.RunOptions) (Drill, error)

// Observer is told what the runner did: the seam for metrics
// (pkg/metrics). Its methods are called from the runner's goroutines and
// must not block.
type Observer interface {
	// Decided is called after each schedule decision of a plan (the last
	// good version of it), once the decision's run and status are stored.
	Decided(p *plan.Plan, d scheduler.Decision)
	// PlanRemoved is called when a plan is gone from the directory.
	PlanRemoved(name string)
	// RunUpdated is called with a run's live report when its drill starts
	// and every Options.UpdateInterval while it goes.
	RunUpdated(rep *report.Report)
	// RunFinished is called once per run, with its final report, once the
	// report is in the history.
	RunFinished(rep *report.Report)
}

// Options configure a Runner. Zero values are documented per field.
type Options struct {
	// Dir is the plans directory: every *.yaml and *.yml file in it (not
	// in subdirectories; hidden files are skipped). Required.
	Dir string
	// StateDir holds the runner's state: each plan's schedule status, the
	// runs in progress, their live snapshots, and the lock that keeps a
	// second runner out. Required.
	StateDir string
	// JournalDir holds the run journals and run locks the engine writes
	// (shared with drill run and drill cleanup). Required.
	JournalDir string
	// History keeps finished runs. Required.
	History History
	// Platforms builds a run's platform, and the platform of a dead run to
	// revert its leftovers. Required.
	Platforms cleanup.PlatformFactory
	// Start starts drills; nil means an engine.Engine on JournalDir, Tool
	// and Clock.
	Start Starter
	// Tool identifies the build in the reports the runner writes itself
	// (a run that could not start, a run that died with drill serve).
	Tool report.Tool
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Observer is told what the runner did; nil means nobody.
	Observer Observer
	// ReloadDelay is how long the directory must be quiet after a change
	// before it is read again (an editor writes a file in several steps).
	// Default 250ms.
	ReloadDelay time.Duration
	// Resync is how often the directory is read again even without a
	// change notice. Default 1m.
	Resync time.Duration
	// SnapshotInterval is how often a run in progress is written to the
	// state directory, so that a crash of drill serve loses at most that
	// much of its evidence. Default 10s.
	SnapshotInterval time.Duration
	// UpdateInterval is how often the Observer gets the live report of a
	// run in progress (the metrics of active runs and faults). Default 1s.
	UpdateInterval time.Duration
	// RetryInterval is how soon a failed write (a report that could not be
	// stored, a decision whose state could not be written) is tried
	// again. Default 30s.
	RetryInterval time.Duration
}

func (o *Options) validate() error {
	var errs []error
	for _, req := range []struct {
		ok   bool
		what string
	}{
		{o.Dir != "", "a plans directory"}, {o.StateDir != "", "a state directory"}, {o.JournalDir != "", "a journal directory"},
		{o.History != nil, "a History"}, {o.Platforms != nil, "a platform factory"},
	} {
		if !req.ok {
			errs = append(errs, fmt.Errorf("%s is required", req.what))
		}
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.ReloadDelay <= 0 {
		o.ReloadDelay = 250 * time.Millisecond
	}
	if o.Resync <= 0 {
		o.Resync = time.Minute
	}
	if o.SnapshotInterval <= 0 {
		o.SnapshotInterval = 10 * time.Second
	}
	if o.UpdateInterval <= 0 {
		o.UpdateInterval = time.Second
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 30 * time.Second
	}
	if o.Start == nil {
		eng, err := engine.New(engine.Options{JournalDir: o.JournalDir, Tool: o.Tool, Clock: o.Clock})
		if err != nil {
			return err
		}
		o.Start = func(ctx context.Context, p *plan.Plan, ro engine.RunOptions) (Drill, error) {
			return eng.Start(ctx, p, ro)
		}
	}
	return nil
}

type nopObserver struct{}

func (nopObserver) Decided(*plan.Plan, scheduler.Decision) {}
func (nopObserver) PlanRemoved(string)                     {}
func (nopObserver) RunUpdated(*report.Report)              {}
func (nopObserver) RunFinished(*report.Report)             {}
