package drillrun

import (
	"context"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// recover reverts what a run left in effect when the replica that ran it
// stopped, and marks it Interrupted. It reads the run live: the cache may
// not show the final status of a run that just finished elsewhere.
func (r *Reconciler) recover(ctx context.Context, cached *v1alpha1.DrillRun) (ctrl.Result, error) {
	logger := ctrl.LoggerFrom(ctx)
	run := &v1alpha1.DrillRun{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cached), run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if run.UID != cached.UID || run.Status.Phase != v1alpha1.RunRunning {
		return ctrl.Result{RequeueAfter: conflictRetry}, nil // the cache is behind
	}
	logger.Info("recovering a run whose replica stopped", "run", run.Name, "runner", run.Status.Runner, "step", run.Status.CurrentStep)
	reverted, err := r.revertLeftovers(ctx, run)
	if r.Metrics != nil {
		r.Metrics.Recovered(err)
	}
	now := r.Clock.Now()
	if err != nil {
		base := run.DeepCopy()
		conditions.Set(&run.Status.Conditions, conditions.Stalled, metav1.ConditionTrue, ReasonRecoverFailed, err.Error(), run.Generation, now)
		conditions.Set(&run.Status.Conditions, conditions.Reconciling, metav1.ConditionTrue, ReasonRecovering, "reverting the faults a stopped replica left in effect", run.Generation, now)
		if perr := r.Client.Status().Patch(ctx, run, client.MergeFrom(base)); perr != nil {
			logger.Error(perr, "writing a failed recovery into the run's status")
		}
		logger.Error(err, "reverting the faults of an interrupted run; retrying", "run", run.Name, "in", recoverRetry)
		return ctrl.Result{RequeueAfter: recoverRetry}, nil
	}
	base := run.DeepCopy()
	spec := run.Status.PlanSpec
	run.Status = interrupted(&run.Status, r.Identity, reverted, run.Generation, now)
	rep := statusReport(run, spec)
	ref, err := r.Reports.Store(ctx, run.Namespace, rep)
	if err != nil {
		run.Status.Message += "; the report could not be archived: " + err.Error()
	}
	if ref.Path != "" {
		run.Status.Report = &ref
	}
	if err := r.Client.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("marking run %s interrupted: %w", run.Name, err)
	}
	logger.Info("run interrupted; its faults are reverted", "run", run.Name, "reverted", reverted)
	if r.Drills != nil {
		r.Drills.RunFinished(run.Namespace, rep)
	}
	return ctrl.Result{}, release(ctx, r.Client, client.ObjectKeyFromObject(run), run.UID)
}

// revertLeftovers reverts every fault the run's journal shows unfinished,
// writes the journal back and returns what it reverted.
func (r *Reconciler) revertLeftovers(ctx context.Context, run *v1alpha1.DrillRun) ([]string, error) {
	var left []int
	for i, e := range run.Status.Journal {
		if e.State.Unfinished() {
			left = append(left, i)
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	spec := run.Status.PlanSpec
	if spec == nil {
		return nil, errors.New("the run's status holds no plan (status.planSpec): its faults cannot be reverted here; use drill cleanup --from-cluster")
	}
	var pf platform.Platform
	var reverted []string
	var errs []error
	runID := RunID(client.ObjectKeyFromObject(run))
	for _, i := range left {
		e := &run.Status.Journal[i]
		idx := slices.IndexFunc(spec.Steps, func(s v1alpha1.Step) bool { return s.Name == e.Step })
		if idx < 0 || spec.Steps[idx].Fault == nil {
			errs = append(errs, fmt.Errorf("step %s: not a fault of the stored plan", e.Step))
			continue
		}
		f := spec.Steps[idx].Fault
		var err error
		reverts := platform.Reverts(f)
		switch {
		case !reverts:
			// Nothing to undo (a pod kill): its workload replaced the pods.
		case f.Exec != nil:
			_, err = r.Actions.Run(ctx, f.Exec.Revert, map[string]string{
				"FIREDRILL_RUN_ID": runID, "FIREDRILL_PLAN": planName(run), "FIREDRILL_STEP": e.Step, "FIREDRILL_PHASE": "cleanup",
			})
		default:
			if pf == nil {
				if pf, err = r.Platforms(ctx, spec); err != nil {
					return nil, fmt.Errorf("building platform %s to revert the run's faults: %w", spec.Target.Platform, err)
				}
			}
			err = pf.Recover(ctx, platform.Fault{ID: e.Step, RunID: runID, Spec: f}, evidenceTargets(e.Targets))
		}
		if err != nil {
			e.Error = err.Error()
			errs = append(errs, fmt.Errorf("step %s: %w", e.Step, err))
			continue
		}
		e.State, e.Error = v1alpha1.FaultReverted, ""
		if reverts {
			reverted = append(reverted, e.Step)
		}
	}
	base := run.DeepCopy()
	base.Status.Journal = nil
	if err := r.Client.Status().Patch(ctx, run, client.MergeFrom(base)); err != nil {
		errs = append(errs, fmt.Errorf("writing the journal: %w", err))
	}
	return reverted, errors.Join(errs...)
}

func planName(run *v1alpha1.DrillRun) string { return runs.PlanName(run) }

// statusReport is the report of a run that ended without its engine: the
// results its status last held, and the plan it ran (spec, which may be
// nil).
func statusReport(run *v1alpha1.DrillRun, spec *v1alpha1.DrillPlanSpec) *report.Report {
	rep := &report.Report{
		Schema: report.SchemaVersion, RunID: RunID(client.ObjectKeyFromObject(run)),
		Plan:    report.Plan{Name: planName(run), Source: "drillrun/" + run.Namespace + "/" + run.Name},
		Trigger: run.Spec.Trigger, Series: []slo.Point{},
	}
	if spec != nil {
		p := &plan.Plan{DrillPlan: &v1alpha1.DrillPlan{Spec: *spec.DeepCopy()}}
		rep.Plan.Spec, rep.Plan.Hash = p.Spec, p.Hash()
	}
	rep.RunResult = *run.Status.RunResult.DeepCopy()
	return rep
}
