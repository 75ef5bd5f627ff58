package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/plan"
)

// Annotations drill serve reads on a DrillRun.
const (
	// AnnotationAbortReason says why an abort was asked for; drill abort
	// --reason, the API and concurrencyPolicy Replace write it with
	// spec.abort, and the run's message states it.
	AnnotationAbortReason = "firedrill.dev/abort-reason"
	// AnnotationRequestedBy names who started a run through drill trigger
	// or the API.
	AnnotationRequestedBy = "firedrill.dev/requested-by"
)

// Hash is the hash of a stored plan's defaulted spec, as drill validate
// prints it: what spec.planHash records.
func Hash(p *v1alpha1.DrillPlan) string {
	d := p.DeepCopy()
	v1alpha1.SetDefaults_DrillPlan(d)
	return (&plan.Plan{DrillPlan: d}).Hash()
}

// Fire names the fire a scheduled run is created for.
type Fire struct {
	// Name is the run's name, scheduler.RunName of the fire.
	Name string
	// Time is the fire's time.
	Time metav1.Time
}

// Options say how a run of a plan starts.
type Options struct {
	// Trigger is what starts it; manual when empty.
	Trigger v1alpha1.Trigger
	// Fire is set for a run of the schedule (Trigger schedule).
	Fire *Fire
	// RequestedBy names who asked for it (manual and api).
	RequestedBy string
}

// ForPlan builds the DrillRun of a stored plan: owned by the plan
// (controller: true, so deleting the plan deletes its runs), labelled with
// it, referencing it with the hash of its spec now. A scheduled run is
// named after its fire; any other gets a generated name <plan>-xxxxx.
func ForPlan(p *v1alpha1.DrillPlan, opts Options, scheme *runtime.Scheme) (*v1alpha1.DrillRun, error) {
	trigger := opts.Trigger
	if trigger == "" {
		trigger = v1alpha1.TriggerManual
	}
	run := &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace},
		Spec: v1alpha1.DrillRunSpec{
			PlanRef: &v1alpha1.PlanReference{Name: p.Name}, Trigger: trigger, PlanHash: Hash(p),
		},
	}
	switch {
	case opts.Fire != nil:
		run.Name = opts.Fire.Name
		run.Spec.ScheduledTime = opts.Fire.Time.DeepCopy()
	case trigger == v1alpha1.TriggerSchedule:
		return nil, fmt.Errorf("a run of plan %s/%s started by the schedule needs its fire", p.Namespace, p.Name)
	default:
		run.GenerateName = p.Name + "-"
	}
	if len(validation.IsValidLabelValue(p.Name)) == 0 {
		run.Labels = map[string]string{LabelPlan: p.Name}
	}
	if opts.RequestedBy != "" {
		run.Annotations = map[string]string{AnnotationRequestedBy: opts.RequestedBy}
	}
	if err := controllerutil.SetControllerReference(p, run, scheme); err != nil {
		return nil, fmt.Errorf("owning run of plan %s/%s: %w", p.Namespace, p.Name, err)
	}
	return run, nil
}

// Active returns the names of the runs that have not finished, sorted.
func Active(runs []v1alpha1.DrillRun) []string {
	var out []string
	for i := range runs {
		if !runs[i].Status.Phase.IsTerminal() {
			out = append(out, runs[i].Name)
		}
	}
	slices.Sort(out)
	return out
}

// RefuseConcurrent says why a run of p may not start on demand now: the
// plan has active runs and its concurrencyPolicy is not Allow. (Forbid and
// Replace say what a fire of the schedule does; a person or the API asks
// again once the active runs are over, or aborts them.)
func RefuseConcurrent(p *v1alpha1.DrillPlan, runs []v1alpha1.DrillRun) error {
	active := Active(runs)
	if len(active) == 0 || p.Spec.ConcurrencyPolicy == v1alpha1.ConcurrencyAllow {
		return nil
	}
	policy := p.Spec.ConcurrencyPolicy
	if policy == "" {
		policy = v1alpha1.ConcurrencyForbid
	}
	return fmt.Errorf("plan %s/%s has %d active run(s): %s (concurrencyPolicy %s); wait for them to finish or abort them (drill abort)",
		p.Namespace, p.Name, len(active), strings.Join(active, ", "), policy)
}

// RequestAbort sets spec.abort on a run, with the reason in
// AnnotationAbortReason, and returns the run as stored. Asking twice is
// harmless; a finished run is left as it is by drill serve.
func RequestAbort(ctx context.Context, c client.Client, key types.NamespacedName, reason string) (*v1alpha1.DrillRun, error) {
	patch := map[string]any{"spec": map[string]any{"abort": true}}
	if reason != "" {
		patch["metadata"] = map[string]any{"annotations": map[string]string{AnnotationAbortReason: reason}}
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encoding the abort: %w", err)
	}
	run := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := c.Patch(ctx, run, client.RawPatch(types.MergePatchType, raw)); err != nil {
		return nil, fmt.Errorf("asking run %s to abort: %w", key, err)
	}
	return run, nil
}
