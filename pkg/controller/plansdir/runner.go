package plansdir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/plans"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/state"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// errStopped is what a request gets once the runner is stopping.
var errStopped = errors.New("drill serve is stopping")

// Runner runs the plans of a directory on their schedules and on request,
// keeps their history, and serves both to the API (it is a
// server.Backend). Create it with New, then Start and Stop it.
//
// One goroutine, the worker, decides and changes what runs: it reloads
// the directory, applies the schedule rules, creates runs and stores
// finished ones, and writes the state. Requests that change something
// (a trigger) are handed to it; reads take the lock.
type Runner struct {
	opts  Options
	state state.Dir

	// changed carries a change notice of the plans directory.
	changed chan struct{}
	// events carries work for the worker.
	events chan func(context.Context)
	// quit tells the worker to return; done is closed once it has.
	quit, done chan struct{}
	// runs counts the goroutines of runs in progress.
	runs sync.WaitGroup

	lock    *os.File
	watcher *fsnotify.Watcher
	logger  *slog.Logger

	mu         sync.Mutex
	started    bool
	ready      bool
	stopCalled bool
	stopping   bool
	plans      *plans.Dir
	// stalled says, by plan, why its schedule cannot be decided.
	stalled  map[string]string
	statuses map[string]v1alpha1.ScheduleStatus
	active   map[string]*activeRun

	// Only the worker touches these (and Start, before the worker runs).
	due       map[string]time.Time
	dirty     map[string]bool
	saveAgain bool
	retryAt   time.Time
}

// New checks opts and returns a runner that is not started.
func New(opts Options) (*Runner, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid plans runner options: %w", err)
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return &Runner{
		opts: opts, state: state.New(opts.StateDir), logger: log.Discard(),
		changed: make(chan struct{}, 1), events: make(chan func(context.Context)),
		quit: make(chan struct{}), done: make(chan struct{}),
		plans: plans.New(opts.Dir), stalled: map[string]string{}, statuses: map[string]v1alpha1.ScheduleStatus{},
		active: map[string]*activeRun{}, due: map[string]time.Time{}, dirty: map[string]bool{},
	}, nil
}

// Start takes the state directory, reverts what runs that died left
// behind and stores those runs as Error, reads the plans and starts
// scheduling them. It returns once the runner is ready; an error leaves
// nothing running. ctx supplies the logger; runs are not tied to it: Stop
// ends them.
func (r *Runner) Start(ctx context.Context) (err error) {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("the plans runner is already started")
	}
	r.started = true
	r.mu.Unlock()
	r.logger = log.FromContext(ctx)
	ctx = log.IntoContext(context.WithoutCancel(ctx), r.logger)

	if r.lock, err = r.state.Lock(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	st, err := r.state.Load()
	if err != nil {
		return err
	}
	if err := r.recover(ctx, st); err != nil {
		return err
	}
	if r.watcher, err = fsnotify.NewWatcher(); err != nil {
		return fmt.Errorf("watching the plans directory: %w", err)
	}
	if err := r.watcher.Add(r.opts.Dir); err != nil {
		return fmt.Errorf("watching the plans directory %s: %w", r.opts.Dir, err)
	}
	names, err := r.reload(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		r.dirty[n] = true
	}
	r.logger.Info("plans runner started", "dir", r.opts.Dir, "plans", r.plans.Len(), "state", r.opts.StateDir)
	go plans.Watch(ctx, r.watcher, r.opts.Dir, r.changed)
	go r.loop(ctx)
	r.mu.Lock()
	r.ready = true
	r.mu.Unlock()
	return nil
}

// Ready says whether the runner is started and not stopping: nil when it
// is, why not otherwise.
func (r *Runner) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopping:
		return errStopped
	case !r.ready:
		return errors.New("starting: reverting what dead runs left and reading the plans")
	}
	return nil
}

// Stop stops scheduling and aborts every run in progress; each reverts
// its faults and its report is stored. It waits for that until ctx ends;
// runs still reverting then are left to the next Start, which reverts
// what they left (their journals) and stores them as Error.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.ready || r.stopCalled {
		r.mu.Unlock()
		return nil
	}
	r.stopCalled = true
	r.mu.Unlock()
	// On the worker, which alone starts runs: none starts after this.
	n := 0
	if err := r.call(ctx, func(context.Context) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.stopping = true
		for _, run := range r.active {
			if run.final == nil {
				run.abort("drill serve is stopping")
				n++
			}
		}
		return nil
	}); err != nil {
		close(r.quit)
		<-r.done
		r.release()
		return fmt.Errorf("stopping the plans runner: %w", err)
	}
	r.logger.Info("plans runner stopping", "aborting", n)
	_ = r.watcher.Close()

	finished := make(chan struct{})
	go func() {
		r.runs.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
		// The worker stores the reports of the runs that finished before
		// it gets to this.
		err = r.call(ctx, func(context.Context) error { return nil })
	case <-ctx.Done():
		err = fmt.Errorf("runs were still reverting their faults when drill serve stopped; the next start reverts what they left: %w", ctx.Err())
	}
	close(r.quit)
	<-r.done
	r.release()
	r.logger.Info("plans runner stopped", "err", err)
	return err
}

func (r *Runner) release() {
	if r.watcher != nil {
		_ = r.watcher.Close()
	}
	if r.lock != nil {
		_ = r.lock.Close()
	}
}

// loop is the worker.
func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	timer := r.opts.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	var reloadAt time.Time
	resyncAt := r.opts.Clock.Now().Add(r.opts.Resync)
	for {
		now := r.opts.Clock.Now()
		if (!reloadAt.IsZero() && !now.Before(reloadAt)) || !now.Before(resyncAt) {
			names, err := r.reload(ctx)
			if err != nil {
				r.logger.Error("reading the plans directory; every plan stays as it was", "dir", r.opts.Dir, "err", err)
			}
			for _, n := range names {
				r.dirty[n] = true
			}
			r.saveAgain = r.saveAgain || len(names) > 0
			reloadAt, resyncAt = time.Time{}, now.Add(r.opts.Resync)
		}
		if !r.retryAt.IsZero() && !now.Before(r.retryAt) {
			r.retryAt = time.Time{}
			r.retry(ctx)
		}
		r.reconcileDue(ctx, now)
		if r.saveAgain {
			r.save()
		}
		next := earliest(resyncAt, orLater(reloadAt), orLater(r.retryAt), r.nextDue())
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(max(next.Sub(r.opts.Clock.Now()), 0))
		select {
		case <-r.quit:
			return
		case <-r.changed:
			reloadAt = r.opts.Clock.Now().Add(r.opts.ReloadDelay)
		case f := <-r.events:
			f(ctx)
		case <-timer.C():
		}
	}
}

// farFuture stands for "no time set" among the wake-up times.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func orLater(t time.Time) time.Time {
	if t.IsZero() {
		return farFuture
	}
	return t
}

func earliest(ts ...time.Time) time.Time {
	return slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

// nextDue is the earliest timed decision.
func (r *Runner) nextDue() time.Time {
	next := farFuture
	for _, t := range r.due {
		if t.Before(next) {
			next = t
		}
	}
	return next
}

// submit hands f to the worker; false once the worker has returned.
func (r *Runner) submit(f func(context.Context)) bool {
	select {
	case r.events <- f:
		return true
	case <-r.done:
		return false
	}
}

// call runs f on the worker and returns its error.
func (r *Runner) call(ctx context.Context, f func(context.Context) error) error {
	errc := make(chan error, 1)
	if !r.submit(func(wctx context.Context) { errc <- f(wctx) }) {
		return errStopped
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// save writes the state file: every plan's schedule status and the runs
// not yet in the history. A failed write is tried again. The caller is
// the worker, or Start.
func (r *Runner) save() bool {
	r.mu.Lock()
	st := state.File{Plans: make(map[string]v1alpha1.ScheduleStatus, len(r.statuses))}
	for name, s := range r.statuses {
		st.Plans[name] = s
	}
	for _, run := range r.active {
		st.Active = append(st.Active, run.rec)
	}
	r.mu.Unlock()
	slices.SortFunc(st.Active, func(a, b state.Run) int { return a.Created.Compare(b.Created) })
	if err := r.state.Save(st); err != nil {
		r.logger.Error("writing the serve state; trying again", "err", err, "in", r.opts.RetryInterval)
		r.saveAgain = true
		r.retryAt = r.opts.Clock.Now().Add(r.opts.RetryInterval)
		return false
	}
	r.saveAgain = false
	return true
}

// reconcileDue decides about the plans that changed and those whose
// timed decision has come. The caller is the worker.
func (r *Runner) reconcileDue(ctx context.Context, now time.Time) {
	for name, at := range r.due {
		if !at.After(now) {
			r.dirty[name] = true
			delete(r.due, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.dirty)) {
		delete(r.dirty, name)
		r.reconcile(ctx, name)
	}
}

// decide runs the schedule rules for a plan: its runs are the active ones
// and those in the history.
func (r *Runner) decide(ctx context.Context, ps *plans.Plan, now time.Time) (scheduler.Decision, []Entry, error) {
	hist, err := r.opts.History.List(ctx, Query{Plan: ps.Plan.Name})
	if err != nil {
		return scheduler.Decision{}, nil, fmt.Errorf("listing the runs of plan %s: %w", ps.Plan.Name, err)
	}
	r.mu.Lock()
	dp := *ps.Plan.DrillPlan
	dp.Status = v1alpha1.DrillPlanStatus{ScheduleStatus: r.statuses[ps.Plan.Name]}
	var runs []scheduler.Run
	for _, run := range r.active {
		if run.rec.Plan.Name == ps.Plan.Name {
			runs = append(runs, run.schedulerRun())
		}
	}
	r.mu.Unlock()
	for i := range hist {
		e := &hist[i]
		if !slices.ContainsFunc(runs, func(s scheduler.Run) bool { return s.Name == e.ID }) {
			runs = append(runs, scheduler.Run{Name: e.ID, Scheduled: Fire(e), Phase: e.Phase, Completed: e.CompletionTime})
		}
	}
	d, err := scheduler.Decide(&dp, runs, now)
	return d, hist, err
}

// reload reads the plans directory again (plans.Dir.Reload) and returns
// the names of the plans that changed, appeared or went away; a plan
// that changed is no longer stalled. The caller is the worker, or Start.
func (r *Runner) reload(ctx context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names, err := r.plans.Reload(ctx, r.removePlan)
	for _, name := range names {
		delete(r.stalled, name)
	}
	return names, err
}

// removePlan forgets a plan gone from the directory: its schedule starts
// afresh if it comes back. Its runs in progress go on. The caller holds
// r.mu.
func (r *Runner) removePlan(name string) {
	delete(r.stalled, name)
	delete(r.statuses, name)
	delete(r.due, name)
	r.opts.Observer.PlanRemoved(name)
}
