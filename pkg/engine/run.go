package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine/internal/runlock"
	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/engine/internal/summary"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
)

// Engine runs drill plans. It holds only what runs share, so one Engine
// runs any number of plans at once.
type Engine struct {
	opts Options
}

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid engine options: %w", err)
	}
	opts.defaults()
	return &Engine{opts: opts}, nil
}

// ErrInterrupted is the cause of a run stopped by Abort without a reason
// of its own.
var ErrInterrupted = errors.New("stopped on request")

// Run is one drill in progress. Its methods are safe for concurrent use.
type Run struct {
	e       *Engine
	id      string
	plan    *plan.Plan
	ro      RunOptions
	journal Journal
	lock    *runlock.Lock
	rec     *recorder
	results chan opResult
	stop    context.CancelCauseFunc

	// Set during start-up by the run's goroutine, read by Snapshot under mu.
	prober   Prober
	endpoint string

	mu sync.Mutex
	st runstate.State

	// outbox holds the events emitted and not yet sent; only the run's
	// goroutine touches it.
	outbox []Event
	// buf is the samples buffer the loop reuses between ticks.
	buf []evidence.Sample
	// spawn runs an inject or a revert off the loop (go f(); tests run
	// it inline).
	spawn func(f func())
	// spawns are the operations apply decided, started once it released
	// r.mu.
	spawns []func()

	done     chan struct{}
	final    *report.Report
	finalErr error
}

// Run executes p and returns its report: Start, then Wait.
func (e *Engine) Run(ctx context.Context, p *plan.Plan, ro RunOptions) (*report.Report, error) {
	r, err := e.Start(ctx, p, ro)
	if err != nil {
		return nil, err
	}
	return r.Wait()
}

// Start checks p against its platform and starts running it. Before it
// returns nothing is touched: an error (a second run of the plan against
// the same target, a plan the platform cannot run, a journal that cannot
// be written) leaves the world as it was. Cancelling ctx aborts the run:
// every active fault is reverted and the report still built.
func (e *Engine) Start(ctx context.Context, p *plan.Plan, ro RunOptions) (*Run, error) {
	r, runCtx, err := e.prepare(ctx, p, ro)
	if err != nil {
		return nil, err
	}
	go r.execute(runCtx)
	return r, nil
}

// prepare does everything Start does but start the run's goroutine.
func (e *Engine) prepare(ctx context.Context, p *plan.Plan, ro RunOptions) (*Run, context.Context, error) {
	if ro.Platform == nil {
		return nil, nil, errors.New("a platform is required")
	}
	o := &e.opts
	obj, err := runstate.Objectives(p.Spec.Objectives)
	if err == nil {
		err = runstate.CheckAbort(p.Spec.Abort)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("plan %s: %w", p.Name, err)
	}
	if ro.RunID == "" {
		ro.RunID = NewRunID(p.Name, o.Clock.Now())
	}
	if ro.Trigger == "" {
		ro.Trigger = v1alpha1.TriggerManual
	}
	if ro.Observer == nil {
		ro.Observer = func(Event) {}
	}
	r := &Run{e: e, id: ro.RunID, plan: p, ro: ro, results: make(chan opResult, 64), done: make(chan struct{}),
		spawn: func(f func()) { go f() }}
	if !p.Spec.Safety.AllowConcurrentRuns && o.JournalDir != "" {
		if r.lock, err = runlock.Acquire(o.JournalDir, p, ro.Platform.Name(), ro.RunID); err != nil {
			return nil, nil, err
		}
	}
	release := func() {
		if r.lock != nil {
			r.lock.Release()
		}
	}
	if err := ro.Platform.Preflight(ctx, &p.Spec); err != nil {
		release()
		return nil, nil, fmt.Errorf("the plan does not fit platform %s: %w", ro.Platform.Name(), err)
	}
	start := o.Clock.Now()
	r.st = runstate.New(&p.Spec, obj, start, ro.Resume)
	r.rec = newRecorder()
	j, err := o.NewJournal(journal.Record{
		RunID: ro.RunID, Plan: p.Name, PlanHash: p.Hash(), Spec: p.Spec, Platform: ro.Platform.Name(), Started: start,
		Clusters: ro.Platform.Clusters(),
	})
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("opening the run journal: %w", err)
	}
	r.journal = j
	runCtx, stop := context.WithCancelCause(ctx)
	r.stop = stop
	return r, runCtx, nil
}

// ID is the run's id.
func (r *Run) ID() string { return r.id }

// Abort stops the run: every active fault is reverted at once and the
// report is still built. reason is stated in the run's message.
func (r *Run) Abort(reason string) {
	if reason == "" {
		r.stop(ErrInterrupted)
		return
	}
	r.stop(errors.New(reason))
}

// Done is closed when the run has finished and its report is final.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait waits for the run to finish and returns its report. The report is
// returned for aborted and failed runs too; an error means the journal
// could not be closed.
func (r *Run) Wait() (*report.Report, error) {
	<-r.done
	return r.final, r.finalErr
}

// Snapshot builds the report as of now: for a live view, or the
// DrillRun status while the run goes. It is the same function that builds
// the final report.
func (r *Run) Snapshot() *report.Report {
	select {
	case <-r.done:
		return r.final
	default:
	}
	r.mu.Lock()
	st := r.st.Clone()
	prober, endpoint := r.prober, r.endpoint
	r.mu.Unlock()
	var samples []evidence.Sample
	if prober != nil {
		samples = prober.AppendSince(nil, time.Time{})
	}
	return r.summarize(&st, samples, endpoint, r.e.opts.Clock.Now())
}

func (r *Run) summarize(st *runstate.State, samples []evidence.Sample, endpoint string, now time.Time) *report.Report {
	return summary.Summarize(summary.Input{
		RunID: r.id, Plan: r.plan, Tool: r.e.opts.Tool, Platform: r.ro.Platform.Name(), Endpoint: endpoint,
		Trigger: r.ro.Trigger, Cleanup: r.ro.Cleanup, State: st, Samples: samples, Now: now,
	})
}

// execute runs the drill to its end and builds the final report.
func (r *Run) execute(ctx context.Context) {
	defer close(r.done)
	defer func() {
		if r.lock != nil {
			r.lock.Release()
		}
	}()
	// Everything after this point must be undone even when ctx is
	// cancelled, so teardown uses a context that outlives it.
	teardown := context.WithoutCancel(ctx)
	defer r.stopPlatform(teardown)
	if r.setup(ctx) {
		// Probes run until the drill is over, through an abort and its
		// reverts, so those are measured too.
		sampleCtx, stopSampling := context.WithCancel(teardown)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := r.prober.Run(sampleCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.FromContext(ctx).Error("probe stopped", "run", r.id, "err", err)
			}
		})
		r.loop(ctx, teardown)
		stopSampling()
		wg.Wait()
	}
	r.finish()
}

// setup starts the platform and the prober and checks every fault
// resolves; it says whether the drill can go on. On failure the run is
// done, with the reason recorded.
func (r *Run) setup(ctx context.Context) bool {
	r.emit(Event{Type: EventStarted, Message: fmt.Sprintf("run %s of plan %s on platform %s", r.id, r.plan.Name, r.ro.Platform.Name())})
	r.flush()
	pf := r.ro.Platform
	info, err := pf.Start(ctx, r.rec)
	r.mu.Lock()
	r.endpoint = r.plan.Spec.System.Endpoint
	if r.endpoint == "" {
		r.endpoint = info.Endpoint
	}
	r.st.Published = info.Published
	r.mu.Unlock()
	if err != nil {
		r.failStart("starting platform " + pf.Name() + ": " + err.Error())
		return false
	}
	prober, err := r.newProber(ctx)
	if err != nil {
		r.failStart(err.Error())
		return false
	}
	r.mu.Lock()
	r.prober = prober
	r.mu.Unlock()
	// Every fault must resolve within the safety limits before anything
	// is touched.
	if err := r.resolveAll(ctx); err != nil {
		r.failStart("preflight: " + err.Error())
		return false
	}
	return true
}

// stopPlatform tears down what the platform started.
func (r *Run) stopPlatform(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.e.opts.RevertTimeout)
	defer cancel()
	if err := r.ro.Platform.Stop(ctx); err != nil {
		log.FromContext(ctx).Error("stopping the platform", "run", r.id, "err", err)
	}
}

// failStart ends a run that could not start its drill.
func (r *Run) failStart(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Errs = append(r.st.Errs, msg)
	r.st.End = r.e.opts.Clock.Now()
	r.st.Done = true
}

// finish builds the final report from the final state.
func (r *Run) finish() {
	var samples []evidence.Sample
	if r.prober != nil {
		samples = r.prober.AppendSince(nil, time.Time{})
	}
	r.mu.Lock()
	st := r.st.Clone()
	r.mu.Unlock()
	r.final = r.summarize(&st, samples, r.endpoint, st.End)
	msg := string(r.final.Phase) + ", verdict " + string(r.final.Verdict)
	if r.final.Message != "" {
		msg += ": " + r.final.Message
	}
	r.emit(Event{Type: EventFinished, Message: msg})
	r.flush()
	if err := r.journal.Finish(string(r.final.Phase)); err != nil {
		r.finalErr = fmt.Errorf("closing the run journal: %w", err)
	}
}

// emit queues an event for the observer; flush sends the queue. The loop
// emits while it holds r.mu and flushes after, so an observer may call
// Snapshot.
func (r *Run) emit(ev Event) {
	ev.RunID = r.id
	ev.At = r.e.opts.Clock.Now()
	ev.Elapsed = ev.At.Sub(r.st.Start)
	r.outbox = append(r.outbox, ev)
}

func (r *Run) flush() {
	out := r.outbox
	r.outbox = nil
	for _, ev := range out {
		r.ro.Observer(ev)
	}
}

// activeNames lists the faults in effect. The caller is the loop.
func (r *Run) activeNames() []string {
	var out []string
	for _, f := range r.st.Faults {
		if f != nil && (f.Phase == runstate.FaultInjecting || f.Phase == runstate.FaultFailover || f.Phase == runstate.FaultReverting) {
			out = append(out, f.ID)
		}
	}
	return out
}

// resolveAll checks that every fault of the plan resolves to targets
// within the safety limits.
func (r *Run) resolveAll(ctx context.Context) error {
	var errs []error
	for i := range r.plan.Spec.Steps {
		st := &r.plan.Spec.Steps[i]
		if st.Fault == nil || r.st.Resumed[st.Name] {
			continue
		}
		if _, err := resolve(ctx, r.ro.Platform, &r.plan.Spec, r.id, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
