package drillrun

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/plan"
)

// dryRun resolves the run's targets, touching nothing, and records them:
// each fault step with the targets it would act on. The run ends
// Succeeded (NotJudged) when every fault resolved, Error otherwise.
func (r *Reconciler) dryRun(ctx context.Context, run *v1alpha1.DrillRun, p *plan.Plan) (ctrl.Result, error) {
	pf, err := r.Platforms(ctx, &p.Spec)
	if err != nil {
		return r.end(ctx, run, v1alpha1.RunError, fmt.Sprintf("building platform %s: %v", p.Spec.Target.Platform, err))
	}
	res, err := engine.DryRun(ctx, pf, &p.Spec, RunID(client.ObjectKeyFromObject(run)))
	base := run.DeepCopy()
	phase, msg := v1alpha1.RunSucceeded, "dry run: nothing was touched"
	if err != nil {
		phase, msg = v1alpha1.RunError, "dry run: "+err.Error()
	}
	run.Status = notStarted(&run.Status, phase, msg, run.Generation, r.Clock.Now())
	run.Status.Steps = dryRunSteps(res)
	if err := r.Client.Status().Patch(ctx, run, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return lost(err)
	}
	return ctrl.Result{}, nil
}

// dryRunSteps records what each step would do.
func dryRunSteps(res []engine.Resolution) []v1alpha1.StepResult {
	out := make([]v1alpha1.StepResult, 0, len(res))
	for _, r := range res {
		sr := v1alpha1.StepResult{Name: r.Step, Kind: v1alpha1.StepWait, Phase: v1alpha1.RunSucceeded}
		if r.Type != "wait" {
			sr.Kind = v1alpha1.StepFault
			sr.Fault = &v1alpha1.FaultResult{Type: r.Type, Targets: apiTargets(r.Picked)}
			sr.Message = fmt.Sprintf("would act on %d of %d candidates: %s", len(r.Picked), len(r.Candidates), names(r.Picked))
			if len(r.Picked) == 0 {
				sr.Phase, sr.Message = v1alpha1.RunError, "could not resolve targets"
			}
		}
		out = append(out, sr)
	}
	return out
}

func names(ts []evidence.Target) string {
	if len(ts) == 0 {
		return "none"
	}
	return strings.TrimSpace(evidence.TargetNames(ts))
}
