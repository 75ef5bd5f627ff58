package drillrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/metrics"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

// The rights the reconciler uses on DrillRuns and DrillPlans. Its
// platforms' rights are in rbac.go.
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillruns,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillruns/status,verbs=patch
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillplans,verbs=get;list;watch

// conflictRetry is how soon a reconcile that lost a race for a run tries
// again.
const conflictRetry = 200 * time.Millisecond

// recoverRetry is how soon a failed recovery is tried again.
const recoverRetry = 10 * time.Second

// Reconciler reconciles DrillRuns. Client reads through the manager's
// cache; APIReader reads the API server directly.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Scheme    *runtime.Scheme
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// Runner runs this replica's drills. Required.
	Runner *Runner
	// Platforms builds a run's platform. Required.
	Platforms PlatformFactory
	// Actions runs exec faults' revert actions when recovering an
	// interrupted run. Required.
	Actions ActionRunner
	// Reports archives the reports of runs that end here without the
	// engine (interrupted, dry runs). Required.
	Reports Archive
	// Identity names this replica. Required.
	Identity string
	// Metrics counts recoveries; nil counts nothing.
	Metrics *metrics.Metrics
	// Drills takes the reports of runs that end here without the engine
	// (interrupted runs); nil means nobody.
	Drills DrillMetrics
}

// SetupWithManager registers the reconciler. It is woken by a run's
// creation, a change of its spec (spec.abort), its deletion and a change
// of its finalizers: not by its own status writes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("drillrun").
		For(&v1alpha1.DrillRun{}, builder.WithPredicates(specOrLifecycle{})).
		WithOptions(controllerOptions()).
		Complete(r)
}

// controllerOptions lets a slow start (a platform's preflight) or
// recovery not hold the other runs back.
func controllerOptions() controller.Options {
	return controller.Options{MaxConcurrentReconciles: 4}
}

// specOrLifecycle passes what the reconciler acts on.
type specOrLifecycle struct{ predicate.Funcs }

func (specOrLifecycle) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	return o.GetGeneration() != n.GetGeneration() ||
		!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
		len(o.GetFinalizers()) != len(n.GetFinalizers())
}

// Reconcile starts, aborts, releases or recovers one run.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var run v1alpha1.DrillRun
	if err := r.Client.Get(ctx, req.NamespacedName, &run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.Runner.Has(run.UID) {
		if reason := abortReason(&run); reason != "" {
			r.Runner.Abort(run.UID, run.Generation, reason)
		}
		return ctrl.Result{}, nil
	}
	if r.Runner.RecentlyFinished(run.UID) && run.Status.Phase == v1alpha1.RunRunning {
		// This replica just finished it; the cache is behind.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	switch {
	case run.Status.Phase.IsTerminal():
		return ctrl.Result{}, release(ctx, r.Client, req.NamespacedName, run.UID)
	case run.Status.Phase == v1alpha1.RunRunning:
		return r.recover(ctx, &run)
	case !run.DeletionTimestamp.IsZero():
		// Deleted before it started: nothing was touched.
		return ctrl.Result{}, release(ctx, r.Client, req.NamespacedName, run.UID)
	case run.Spec.Abort:
		return r.end(ctx, &run, v1alpha1.RunAborted, "aborted before it started: "+abortReason(&run)+"; nothing was touched")
	}
	return r.start(ctx, &run)
}

// abortReason says why a run must stop: an abort was asked for or the run
// is being deleted; "" when neither.
func abortReason(run *v1alpha1.DrillRun) string {
	switch {
	case !run.DeletionTimestamp.IsZero():
		return "the DrillRun is being deleted"
	case !run.Spec.Abort:
		return ""
	case run.Annotations[runs.AnnotationAbortReason] != "":
		return "aborted on request (" + run.Annotations[runs.AnnotationAbortReason] + ")"
	}
	return "aborted on request (spec.abort)"
}

// start resolves the run's plan, claims the run and launches its drill.
func (r *Reconciler) start(ctx context.Context, run *v1alpha1.DrillRun) (ctrl.Result, error) {
	logger := ctrl.LoggerFrom(ctx)
	p, refused, err := r.resolve(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	if refused != "" {
		return r.end(ctx, run, v1alpha1.RunError, string(refused))
	}
	if run.Spec.DryRun {
		return r.dryRun(ctx, run, p)
	}
	pf, err := r.Platforms(ctx, &p.Spec)
	if err != nil {
		return r.end(ctx, run, v1alpha1.RunError, fmt.Sprintf("building platform %s: %v", p.Spec.Target.Platform, err))
	}
	// Claim the run: the finalizer, then the Running status naming this
	// replica and holding the plan, each against the resourceVersion read.
	if !controllerutil.ContainsFinalizer(run, Finalizer) {
		base := run.DeepCopy()
		controllerutil.AddFinalizer(run, Finalizer)
		if err := r.Client.Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return lost(err)
		}
	}
	base := run.DeepCopy()
	run.Status = claimed(&run.Status, &p.Spec, r.Identity, run.Generation, r.Clock.Now())
	if err := r.Client.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return lost(err)
	}
	if err := r.Runner.Launch(ctx, run, p, pf); err != nil {
		if errors.Is(err, errNotReady) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return r.end(ctx, run, v1alpha1.RunError, err.Error())
	}
	logger.Info("run started", "run", run.Name, "plan", p.Name, "trigger", run.Spec.Trigger)
	return ctrl.Result{}, nil
}

// lost handles a failed claim: a conflict means another reconcile or a
// stale cache; try again shortly.
func lost(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return ctrl.Result{}, fmt.Errorf("claiming the run: %w", err)
}

// end gives a run that never touched anything its final status, and
// releases it.
func (r *Reconciler) end(ctx context.Context, run *v1alpha1.DrillRun, phase v1alpha1.RunPhase, msg string) (ctrl.Result, error) {
	base := run.DeepCopy()
	run.Status = notStarted(&run.Status, phase, msg, run.Generation, r.Clock.Now())
	if err := r.Client.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return lost(err)
	}
	ctrl.LoggerFrom(ctx).Info("run ended without touching anything", "run", run.Name, "phase", phase, "message", msg)
	return ctrl.Result{}, release(ctx, r.Client, client.ObjectKeyFromObject(run), run.UID)
}
