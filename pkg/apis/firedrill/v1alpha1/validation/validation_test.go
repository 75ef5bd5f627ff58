package validation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestUnsatisfiableSelectors(t *testing.T) {
	expr := func(key string, op metav1.LabelSelectorOperator, vals ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	tests := []struct {
		name string
		sel  metav1.LabelSelector
		want string
	}{
		{name: "labels and a compatible In match", sel: metav1.LabelSelector{MatchLabels: map[string]string{"app": "r"}, MatchExpressions: []metav1.LabelSelectorRequirement{expr("app", metav1.LabelSelectorOpIn, "r", "s")}}},
		{name: "disjoint In sets cannot match", sel: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("zone", metav1.LabelSelectorOpIn, "a"), expr("zone", metav1.LabelSelectorOpIn, "b")}}, want: `no value of label "zone"`},
		{name: "a label and its absence cannot match", sel: metav1.LabelSelector{MatchLabels: map[string]string{"gpu": "true"}, MatchExpressions: []metav1.LabelSelectorRequirement{expr("gpu", metav1.LabelSelectorOpDoesNotExist)}}, want: `label "gpu" is required and also required to be absent`},
		{name: "NotIn of every allowed value cannot match", sel: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("r", metav1.LabelSelectorOpIn, "x"), expr("r", metav1.LabelSelectorOpNotIn, "x")}}, want: `no value of label "r"`},
		{name: "NotIn alone is satisfiable", sel: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("r", metav1.LabelSelectorOpNotIn, "x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unsatisfiable(&tt.sel)
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tt.want)
		})
	}
}

func TestDefaultsAreIdempotent(t *testing.T) {
	p := &v1alpha1.DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.DrillPlanSpec{
		Load:  v1alpha1.Load{Timeout: &metav1.Duration{Duration: 300 * time.Millisecond}},
		Steps: []v1alpha1.Step{{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}}},
	}}
	v1alpha1.SetDefaults_DrillPlan(p)
	once := p.DeepCopy()
	v1alpha1.SetDefaults_DrillPlan(p)
	require.Equal(t, once, p)
	require.Equal(t, 300*time.Millisecond, p.Spec.Objectives.Recovered.LatencyP99.Duration,
		"the recovered p99 never defaults above the request timeout")
	require.Empty(t, ValidateDrillPlan(p))
}

func TestValidateDrillRun(t *testing.T) {
	tests := []struct {
		name string
		run  v1alpha1.DrillRun
		want string
	}{
		{name: "a plan reference is enough", run: v1alpha1.DrillRun{Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "quarterly"}}}},
		{name: "neither a reference nor a plan", run: v1alpha1.DrillRun{}, want: "set planRef or an inline plan"},
		{name: "both a reference and a plan", run: v1alpha1.DrillRun{Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "q"}, Plan: &v1alpha1.DrillPlanSpec{}}}, want: "not both"},
		{name: "an inline plan is validated", run: v1alpha1.DrillRun{Spec: v1alpha1.DrillRunSpec{Plan: &v1alpha1.DrillPlanSpec{}}}, want: "spec.plan.steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v1alpha1.SetDefaults_DrillRun(&tt.run)
			require.Equal(t, v1alpha1.TriggerManual, tt.run.Spec.Trigger)
			errs := ValidateDrillRun(&tt.run)
			if tt.want == "" {
				require.Empty(t, errs)
				return
			}
			require.ErrorContains(t, errs.ToAggregate(), tt.want)
		})
	}
}
