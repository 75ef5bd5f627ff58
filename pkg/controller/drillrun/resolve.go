package drillrun

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1/validation"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/plan"
)

// refusal is why a run cannot start; it ends the run Error before
// anything is touched.
type refusal string

// resolve finds the plan a run executes: its inline plan, or the
// DrillPlan it references as the plan is now, defaulted and validated. A
// run created for another version of the plan (spec.planHash) is refused:
// it would not drill what it stands for.
func (r *Reconciler) resolve(ctx context.Context, run *v1alpha1.DrillRun) (*plan.Plan, refusal, error) {
	var dp *v1alpha1.DrillPlan
	switch {
	case run.Spec.Plan != nil:
		dp = &v1alpha1.DrillPlan{Spec: *run.Spec.Plan.DeepCopy()}
		dp.Name, dp.Namespace = run.Name, run.Namespace
	case run.Spec.PlanRef != nil:
		dp = &v1alpha1.DrillPlan{}
		key := types.NamespacedName{Namespace: run.Namespace, Name: run.Spec.PlanRef.Name}
		if err := r.Client.Get(ctx, key, dp); apierrors.IsNotFound(err) {
			return nil, refusal(fmt.Sprintf("plan %s not found in namespace %s", key.Name, key.Namespace)), nil
		} else if err != nil {
			return nil, "", fmt.Errorf("reading plan %s: %w", key, err)
		}
		if h := runs.Hash(dp); run.Spec.PlanHash != "" && run.Spec.PlanHash != h {
			return nil, refusal(fmt.Sprintf("plan %s changed since the run was created (spec.planHash %.12s…, the plan's hash now %.12s…); "+
				"the run would not drill the version it was created for: create a new run", key.Name, run.Spec.PlanHash, h)), nil
		}
		dp = dp.DeepCopy()
	default:
		return nil, "set spec.planRef or spec.plan", nil
	}
	v1alpha1.SetDefaults_DrillPlan(dp)
	if errs := validation.ValidateDrillPlan(dp); len(errs) > 0 {
		return nil, refusal("the plan is invalid: " + errs.ToAggregate().Error()), nil
	}
	if dp.Spec.Target.Platform == v1alpha1.PlatformLocal {
		return nil, "target.platform local is the sandbox on the machine that runs drill; drill serve in a cluster runs plans on platform kubernetes or none", nil
	}
	source := "drillplan/" + dp.Namespace + "/" + dp.Name
	if run.Spec.Plan != nil {
		source = "drillrun/" + run.Namespace + "/" + run.Name
	}
	return &plan.Plan{DrillPlan: dp, Source: source}, "", nil
}
