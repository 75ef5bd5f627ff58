package drillplan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1/validation"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/metrics"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// The rights the reconciler uses. drillplans/finalizers: the runs it
// creates carry an owner reference with blockOwnerDeletion, which the
// OwnerReferencesPermissionEnforcement admission plugin checks.
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillplans,verbs=get;list;watch
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillplans/status,verbs=patch
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillplans/finalizers,verbs=update
// +kubebuilder:rbac:groups=firedrill.dev,resources=drillruns,verbs=get;list;watch;create;patch;delete

// Reasons of a plan's conditions besides the decision's reasons
// (scheduler.Reason).
const (
	// ReasonInvalid: the plan does not validate.
	ReasonInvalid = "Invalid"
	// ReasonScheduleUnreadable: the schedule or time zone cannot be read.
	ReasonScheduleUnreadable = "ScheduleUnreadable"
	// ReasonUnsupportedPlatform: the plan targets the local sandbox.
	ReasonUnsupportedPlatform = "UnsupportedPlatform"
)

// Archive deletes the reports of pruned runs (*reportarchive.Archive).
type Archive interface {
	// Delete removes the run's report; a missing one is no error.
	Delete(ctx context.Context, run *v1alpha1.DrillRun) error
}

// Reconciler reconciles DrillPlans. Client reads through the manager's
// cache, which must hold the runs.RunsByPlan index.
type Reconciler struct {
	Client client.Client
	Scheme *runtime.Scheme
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// Reports deletes pruned runs' reports; nil keeps them.
	Reports Archive
	// Metrics counts missed fires; nil counts nothing.
	Metrics *metrics.Metrics
	// Drills is told each plan's spec and next fire, and which plans are
	// gone (the drill metrics); nil means nobody.
	Drills PlanMetrics
}

// PlanMetrics takes what the drill metrics know of plans
// (*metrics.Drills of pkg/controller/metrics).
type PlanMetrics interface {
	// SetPlan tells a plan's defaulted spec and next fire (zero when it
	// has none, or is suspended).
	SetPlan(namespace, name string, spec *v1alpha1.DrillPlanSpec, next time.Time)
	// DeletePlan says a plan is gone.
	DeletePlan(namespace, name string)
}

// SetupWithManager registers the reconciler: DrillPlans whose spec
// changed, and the plan of every DrillRun created, deleted or whose phase
// changed.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("drillplan").
		For(&v1alpha1.DrillPlan{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.DrillRun{}, handler.EnqueueRequestsFromMapFunc(planOf), builder.WithPredicates(phaseChanged{})).
		Complete(r)
}

// planOf maps a run to its plan.
func planOf(_ context.Context, obj client.Object) []reconcile.Request {
	names := runs.RunPlan(obj)
	if len(names) == 0 {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: names[0]}}}
}

// phaseChanged passes a run's creation and deletion and an update that
// changes its phase: what the schedule rules read. The status writes of a
// run in progress do not wake its plan.
type phaseChanged struct{ predicate.Funcs }

func (phaseChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*v1alpha1.DrillRun)
	n, ok2 := e.ObjectNew.(*v1alpha1.DrillRun)
	return !ok1 || !ok2 || o.Status.Phase != n.Status.Phase
}

// Reconcile applies the schedule rules to one plan.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := ctrl.LoggerFrom(ctx)
	var p v1alpha1.DrillPlan
	if err := r.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		if apierrors.IsNotFound(err) && r.Drills != nil {
			r.Drills.DeletePlan(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		if r.Drills != nil {
			r.Drills.DeletePlan(p.Namespace, p.Name)
		}
		return ctrl.Result{}, nil // its runs go with it
	}
	now := r.Clock.Now()
	items, err := runs.PlanRuns(ctx, r.Client, p.Namespace, p.Name, client.UnsafeDisableDeepCopy)
	if err != nil {
		return ctrl.Result{}, err
	}
	status := p.Status.DeepCopy()
	status.ObservedGeneration = p.Generation
	status.LastRun = lastRun(items)

	defaulted := p.DeepCopy()
	v1alpha1.SetDefaults_DrillPlan(defaulted)
	if reason, msg := refused(defaulted); reason != "" {
		conditions.Stall(&status.Conditions, reason, msg, p.Generation, now)
		return ctrl.Result{}, r.writeStatus(ctx, &p, status)
	}
	sruns := make([]scheduler.Run, 0, len(items))
	for i := range items {
		sruns = append(sruns, scheduler.RunOf(&items[i]))
	}
	d, err := scheduler.Decide(defaulted, sruns, now)
	if err != nil {
		conditions.Stall(&status.Conditions, ReasonScheduleUnreadable, err.Error(), p.Generation, now)
		return ctrl.Result{}, r.writeStatus(ctx, &p, status)
	}

	// Act in the decision's order: abort, create, write the status, prune.
	for _, name := range d.Abort {
		reason := "concurrencyPolicy Replace: a later fire of plan " + p.Name + " replaces it"
		if d.Waiting != nil {
			reason = fmt.Sprintf("concurrencyPolicy Replace: the fire at %s of plan %s replaces it", d.Waiting.Time.Format(time.RFC3339), p.Name)
		}
		if _, err := runs.RequestAbort(ctx, r.Client, types.NamespacedName{Namespace: p.Namespace, Name: name}, reason); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	if d.Start != nil {
		run, err := runs.ForPlan(&p, runs.Options{Trigger: v1alpha1.TriggerSchedule, Fire: &runs.Fire{Name: d.Start.RunName, Time: metav1.NewTime(d.Start.Time)}}, r.Scheme)
		if err != nil {
			return ctrl.Result{}, err
		}
		switch err := r.Client.Create(ctx, run); {
		case apierrors.IsAlreadyExists(err):
			// The fire's run exists: it counts as started.
		case err != nil:
			// Nothing is written: the next decision owes the same fire.
			return ctrl.Result{}, fmt.Errorf("creating run %s for the fire at %s: %w", d.Start.RunName, d.Start.Time.Format(time.RFC3339), err)
		default:
			logger.Info("fire started a run", "run", run.Name, "fire", d.Start.Time, "late", d.Start.Late)
		}
		if status.LastRun == nil || status.LastRun.Name != d.Start.RunName {
			status.LastRun = &v1alpha1.RunSummary{Name: d.Start.RunName}
		}
	}
	r.countMissed(p.Status.Missed, d.Status.Missed)
	status.ScheduleStatus = d.Status
	conditions.Done(&status.Conditions, string(d.Reason), d.Message, p.Generation, now)
	if err := r.writeStatus(ctx, &p, status); err != nil {
		return ctrl.Result{}, err
	}
	if r.Drills != nil {
		var next time.Time
		if t := d.Status.NextScheduleTime; t != nil && defaulted.Spec.Schedule != "" && !defaulted.Spec.Suspend {
			next = t.Time
		}
		r.Drills.SetPlan(p.Namespace, p.Name, &defaulted.Spec, next)
	}
	if err := r.prune(ctx, items, d.Prune); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: d.RequeueAfter}, nil
}

// refused says why a valid-looking stored plan cannot be scheduled here.
func refused(p *v1alpha1.DrillPlan) (reason, msg string) {
	if errs := validation.ValidateDrillPlan(p); len(errs) > 0 {
		return ReasonInvalid, errs.ToAggregate().Error()
	}
	if p.Spec.Target.Platform == v1alpha1.PlatformLocal {
		return ReasonUnsupportedPlatform, "target.platform local is the sandbox on the machine that runs drill: " +
			"drill run and drill serve on one machine run it, drill serve in a cluster does not; set target.platform kubernetes or none"
	}
	return "", ""
}

// writeStatus patches the plan's status when it changed, with the plan's
// resourceVersion as a precondition: a status computed from a stale cache
// never overwrites a newer one.
func (r *Reconciler) writeStatus(ctx context.Context, p *v1alpha1.DrillPlan, status *v1alpha1.DrillPlanStatus) error {
	if equality.Semantic.DeepEqual(&p.Status, status) {
		return nil
	}
	base := p.DeepCopy()
	p.Status = *status
	if err := r.Client.Status().Patch(ctx, p, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing the status of plan %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// prune deletes the named runs, each report first: a report whose run
// is gone would never be pruned.
func (r *Reconciler) prune(ctx context.Context, items []v1alpha1.DrillRun, names []string) error {
	logger := ctrl.LoggerFrom(ctx)
	var errs []error
	for _, name := range names {
		for i := range items {
			run := &items[i]
			if run.Name != name {
				continue
			}
			if run.Status.Report != nil && r.Reports != nil {
				if err := r.Reports.Delete(ctx, run); err != nil {
					errs = append(errs, fmt.Errorf("pruning the report of run %s: %w", name, err))
					continue
				}
			}
			uid := run.UID
			err := r.Client.Delete(ctx, run, client.Preconditions{UID: &uid})
			if client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("pruning run %s: %w", name, err))
				continue
			}
			logger.Info("pruned run beyond the history limits", "run", name, "phase", run.Status.Phase)
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) countMissed(was, now *v1alpha1.MissedSchedule) {
	if r.Metrics == nil || now == nil || (was != nil && was.ScheduleTime.Equal(&now.ScheduleTime)) {
		return
	}
	n := int(now.Count)
	if was != nil && now.Count > was.Count {
		n -= int(was.Count)
	}
	r.Metrics.Missed(now.Reason, n)
}

// lastRun summarises the newest run, by creation.
func lastRun(items []v1alpha1.DrillRun) *v1alpha1.RunSummary {
	var newest *v1alpha1.DrillRun
	for i := range items {
		r := &items[i]
		if newest == nil || r.CreationTimestamp.After(newest.CreationTimestamp.Time) ||
			(r.CreationTimestamp.Equal(&newest.CreationTimestamp) && r.Name > newest.Name) {
			newest = r
		}
	}
	if newest == nil {
		return nil
	}
	s := &v1alpha1.RunSummary{Name: newest.Name, Phase: newest.Status.Phase, Verdict: newest.Status.Verdict}
	if t := newest.Status.StartTime; t != nil {
		s.StartTime = &metav1.Time{Time: t.UTC().Truncate(time.Second)}
	}
	if t := newest.Status.CompletionTime; t != nil {
		s.CompletionTime = &metav1.Time{Time: t.UTC().Truncate(time.Second)}
	}
	return s
}
