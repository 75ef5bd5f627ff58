package runs

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// RunsByPlan indexes DrillRuns by spec.planRef.name: a plan's runs are
// listed with client.MatchingFields{RunsByPlan: name} in its namespace.
// Runs with an inline plan are not indexed.
const RunsByPlan = "spec.planRef.name"

// LabelPlan labels the DrillRuns drill serve creates with their plan's
// name, for kubectl get drillruns -l firedrill.dev/plan=NAME.
const LabelPlan = "firedrill.dev/plan"

// RunPlan extracts RunsByPlan from a DrillRun.
func RunPlan(obj client.Object) []string {
	r, ok := obj.(*v1alpha1.DrillRun)
	if !ok || r.Spec.PlanRef == nil || r.Spec.PlanRef.Name == "" {
		return nil
	}
	return []string{r.Spec.PlanRef.Name}
}

// Setup registers every index with a manager's field indexer.
func Setup(ctx context.Context, fi client.FieldIndexer) error {
	if err := fi.IndexField(ctx, &v1alpha1.DrillRun{}, RunsByPlan, RunPlan); err != nil {
		return fmt.Errorf("indexing drillruns by %s: %w", RunsByPlan, err)
	}
	return nil
}

// PlanRuns lists the runs of plan namespace/name from r.
func PlanRuns(ctx context.Context, r client.Reader, namespace, name string, opts ...client.ListOption) ([]v1alpha1.DrillRun, error) {
	var list v1alpha1.DrillRunList
	opts = append([]client.ListOption{client.InNamespace(namespace), client.MatchingFields{RunsByPlan: name}}, opts...)
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing the runs of plan %s/%s: %w", namespace, name, err)
	}
	return list.Items, nil
}

// PlanName is the name of the plan a run drills: its planRef, or the run
// itself for an inline plan. It is the plan's name in the run's report
// and in the report archive.
func PlanName(r *v1alpha1.DrillRun) string {
	if r.Spec.PlanRef != nil {
		return r.Spec.PlanRef.Name
	}
	return r.Name
}

// ReportID is the run id of a DrillRun's report, <namespace>.<name>: unique
// in a cluster, so the runs of every namespace share one archive.
func ReportID(namespace, name string) string { return namespace + "." + name }
