package drillrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/metrics"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
)

// Finalizer keeps a DrillRun whose drill may have faults in effect until
// they are reverted.
const Finalizer = "firedrill.dev/revert"

// DefaultStatusInterval is how often the status of a run in progress is
// written when nothing else happens.
const DefaultStatusInterval = 2 * time.Second

// finalWriteTimeout bounds the retries of a run's final status write.
const finalWriteTimeout = 2 * time.Minute

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// Client writes statuses. Required.
	Client client.Client
	// Engine starts drills. Required.
	Engine Engine
	// Reports archives each run's report. Required.
	Reports Archive
	// Identity names this replica in status.runner. Required.
	Identity string
	// StatusInterval is how often a run's status is written besides its
	// milestones; zero means DefaultStatusInterval.
	StatusInterval time.Duration
	// Clock is the time source; nil means the real clock.
	Clock clock.WithTicker
	// Logger is the engine's logger; nil discards.
	Logger *slog.Logger
	// Metrics counts runs; nil counts nothing.
	Metrics *metrics.Metrics
	// Drills takes each run's live and final reports (the drill
	// metrics); nil means nobody.
	Drills DrillMetrics
}

// Runner runs the drills of this replica. It is a manager runnable that
// needs leader election: drills run on the leader only. When the manager
// stops, every drill is aborted (its faults reverted) and its final
// status written before Start returns.
type Runner struct {
	opts RunnerOptions

	ready chan struct{}
	base  context.Context //nolint:containedctx // the runnable's context, handed to each drill it starts.

	mu       sync.Mutex
	active   map[types.UID]*activeRun
	finished map[types.UID]time.Time
	wg       sync.WaitGroup
}

// NewRunner returns a Runner.
func NewRunner(opts RunnerOptions) (*Runner, error) {
	if opts.Client == nil || opts.Engine == nil || opts.Reports == nil || opts.Identity == "" {
		return nil, errors.New("drillrun runner: client, engine, reports and identity are required")
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = DefaultStatusInterval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = log.Discard()
	}
	return &Runner{opts: opts, ready: make(chan struct{}), active: map[types.UID]*activeRun{}, finished: map[types.UID]time.Time{}}, nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (r *Runner) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: it serves drills until ctx ends,
// then aborts every drill and waits for each to revert and write its
// final status.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	r.base = log.IntoContext(context.WithoutCancel(ctx), r.opts.Logger)
	r.mu.Unlock()
	close(r.ready)
	<-ctx.Done()
	r.mu.Lock()
	for _, a := range r.active {
		a.stop(fmt.Errorf("drill serve replica %s is stopping", r.opts.Identity))
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// activeRun is a drill of this replica.
type activeRun struct {
	key   types.NamespacedName
	uid   types.UID
	runID string
	drill Drill
	stop  context.CancelCauseFunc
	poke  chan struct{}

	mu          sync.Mutex
	gen         int64
	abortReason string
	// last is the run as the last status write left it (status.journal
	// aside, which the journal writes).
	last *v1alpha1.DrillRun
}

// observe is the engine's observer: a step or fault milestone asks for a
// status write now. It never blocks.
func (a *activeRun) observe(ev engine.Event) {
	switch ev.Type {
	case engine.EventStep, engine.EventInjected, engine.EventRecovered, engine.EventReverted, engine.EventAborting, engine.EventBaseline:
		select {
		case a.poke <- struct{}{}:
		default:
		}
	}
}

// Has says whether this replica runs the drill of run uid.
func (r *Runner) Has(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.active[uid]
	return ok
}

// RecentlyFinished says whether this replica finished the drill of run uid
// within the last minute: the cache may not show its final status yet.
func (r *Runner) RecentlyFinished(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.finished[uid]
	return ok && r.opts.Clock.Since(at) < time.Minute
}

// Snapshot is the live report of a drill this replica runs; nil when it
// runs none for uid.
func (r *Runner) Snapshot(uid types.UID) *report.Report {
	r.mu.Lock()
	a := r.active[uid]
	r.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.drill.Snapshot()
}

// Abort asks the drill of run uid to stop, for reason, and records the
// run's generation; false when this replica runs none.
func (r *Runner) Abort(uid types.UID, gen int64, reason string) bool {
	r.mu.Lock()
	a := r.active[uid]
	r.mu.Unlock()
	if a == nil {
		return false
	}
	a.mu.Lock()
	first := a.abortReason == ""
	a.gen = gen
	if first {
		a.abortReason = reason
	}
	a.mu.Unlock()
	if first {
		a.drill.Abort(reason)
	}
	a.observe(engine.Event{Type: engine.EventAborting})
	return true
}

// errNotReady says the runner has not started: this replica is not the
// leader yet.
var errNotReady = errors.New("the drill runner has not started")

// Launch starts the drill of a claimed run (its finalizer and Running
// status written) with p on pf. On error nothing was touched.
func (r *Runner) Launch(ctx context.Context, run *v1alpha1.DrillRun, p *plan.Plan, pf platform.Platform) error {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return errNotReady
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	a := &activeRun{key: key, uid: run.UID, runID: RunID(key), poke: make(chan struct{}, 1), gen: run.Generation, last: run.DeepCopy()}
	a.last.Status.Journal = nil
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	runCtx, stop := context.WithCancelCause(base)
	trigger := run.Spec.Trigger
	if trigger == "" {
		trigger = v1alpha1.TriggerManual
	}
	d, err := r.opts.Engine.Start(runCtx, p, engine.RunOptions{Platform: pf, RunID: a.runID, Trigger: trigger, Observer: a.observe})
	if err != nil {
		stop(err)
		return err
	}
	a.drill, a.stop = d, stop
	r.mu.Lock()
	r.active[a.uid] = a
	r.wg.Add(1)
	r.mu.Unlock()
	if r.opts.Metrics != nil {
		r.opts.Metrics.Started(trigger)
	}
	go r.supervise(a)
	return nil
}

// supervise writes the run's status until the drill ends, then its final
// status.
func (r *Runner) supervise(a *activeRun) {
	defer r.wg.Done()
	ctx := log.IntoContext(context.Background(), r.opts.Logger)
	ticker := r.opts.Clock.NewTicker(r.opts.StatusInterval)
	defer ticker.Stop()
	for {
		select {
		case <-a.drill.Done():
			r.finish(ctx, a)
			return
		case <-ticker.C():
		case <-a.poke:
		}
		r.writeProgress(ctx, a)
	}
}

// writeProgress writes the status of a run in progress from a snapshot.
func (r *Runner) writeProgress(ctx context.Context, a *activeRun) {
	rep := a.drill.Snapshot()
	a.mu.Lock()
	gen, reason := a.gen, a.abortReason
	a.mu.Unlock()
	if r.opts.Drills != nil {
		r.opts.Drills.RunUpdated(a.key.Namespace, rep)
	}
	st := progress(&a.last.Status, rep, gen, reason, r.opts.Clock.Now())
	err := r.patchStatus(ctx, a, st)
	if r.opts.Metrics != nil {
		r.opts.Metrics.StatusWrite(err)
	}
	if err != nil {
		log.FromContext(ctx).Warn("writing the status of a run in progress", "run", a.key.String(), "err", err)
	}
}

// patchStatus writes st as a merge patch against what the last write
// left: only what changed is sent, and status.journal never is.
func (r *Runner) patchStatus(ctx context.Context, a *activeRun, st v1alpha1.DrillRunStatus) error {
	if equality.Semantic.DeepEqual(&a.last.Status, &st) {
		return nil
	}
	next := a.last.DeepCopy()
	next.Status = st
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.opts.Client.Status().Patch(wctx, next, client.MergeFrom(a.last)); err != nil {
		return fmt.Errorf("writing the status of run %s: %w", a.key, err)
	}
	next.Status.Journal = nil
	a.last = next
	return nil
}

// finish archives the report, writes the final status and releases the
// run, retrying the writes for up to finalWriteTimeout.
func (r *Runner) finish(ctx context.Context, a *activeRun) {
	logger := log.FromContext(ctx).With("run", a.key.String())
	rep, err := a.drill.Wait()
	if err != nil {
		logger.Warn("the drill's journal could not be closed", "err", err)
	}
	a.stop(nil)
	ref, aerr := r.opts.Reports.Store(ctx, a.key.Namespace, rep)
	if aerr != nil {
		logger.Error("archiving the report", "err", aerr)
	}
	var refp *v1alpha1.ReportReference
	if ref.Path != "" {
		// Archived, or kept in the keep directory (aerr says so).
		refp = &ref
	}
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	st := final(&a.last.Status, rep, refp, aerr, gen, r.opts.Clock.Now())
	wctx, cancel := context.WithTimeout(ctx, finalWriteTimeout)
	defer cancel()
	err = retry.OnError(longBackoff, func(error) bool { return wctx.Err() == nil }, func() error { return r.patchStatus(wctx, a, st) })
	if err == nil {
		err = retry.OnError(longBackoff, func(error) bool { return wctx.Err() == nil }, func() error { return release(wctx, r.opts.Client, a.key, a.uid) })
	}
	if err != nil {
		// The next leader, or this one, finds the run Running and not
		// held, and marks it Interrupted: its faults are reverted already.
		logger.Error("writing the final status of a run", "err", err)
	}
	logger.Info("run finished", "phase", rep.Phase, "verdict", rep.Verdict)
	if r.opts.Metrics != nil {
		r.opts.Metrics.Finished(rep.Phase)
	}
	if r.opts.Drills != nil {
		r.opts.Drills.RunFinished(a.key.Namespace, rep)
	}
	r.mu.Lock()
	delete(r.active, a.uid)
	r.finished[a.uid] = r.opts.Clock.Now()
	for uid, at := range r.finished {
		if r.opts.Clock.Since(at) > time.Minute {
			delete(r.finished, uid)
		}
	}
	r.mu.Unlock()
}

// longBackoff retries a write from half a second apart to 15 s apart,
// about a minute and a half in all.
var longBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 10, Cap: 15 * time.Second}

// release removes the finalizer from run key (of uid), if it still has it.
func release(ctx context.Context, c client.Client, key types.NamespacedName, uid types.UID) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var run v1alpha1.DrillRun
		if err := c.Get(ctx, key, &run); err != nil {
			return client.IgnoreNotFound(err)
		}
		if run.UID != uid || !controllerutil.ContainsFinalizer(&run, Finalizer) {
			return nil
		}
		base := run.DeepCopy()
		controllerutil.RemoveFinalizer(&run, Finalizer)
		if err := c.Patch(ctx, &run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("releasing run %s: %w", key, client.IgnoreNotFound(err))
		}
		return nil
	})
}
