package runs

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestSummarizeKeepsWhatTheCacheIsReadFor(t *testing.T) {
	full := func(phase v1alpha1.RunPhase) *v1alpha1.DrillRun {
		r := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "r", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
		r.Status.Phase, r.Status.Verdict, r.Status.WorstRecovery = phase, v1alpha1.VerdictPass, "7.5s/1m0s"
		r.Status.Steps = []v1alpha1.StepResult{{Name: "kill"}}
		r.Status.Overall = &v1alpha1.CheckResult{}
		r.Status.PlanSpec = &v1alpha1.DrillPlanSpec{}
		r.Status.Report = &v1alpha1.ReportReference{Path: "/reports/r"}
		r.Status.Journal = []v1alpha1.JournalEntry{{Step: "kill", State: v1alpha1.FaultReverted}}
		return r
	}
	got, err := Summarize(full(v1alpha1.RunSucceeded))
	require.NoError(t, err)
	r := got.(*v1alpha1.DrillRun)
	require.Nil(t, r.ManagedFields)
	require.Nil(t, r.Status.Steps)
	require.Nil(t, r.Status.Overall)
	require.Nil(t, r.Status.PlanSpec)
	require.Equal(t, "7.5s/1m0s", r.Status.WorstRecovery)
	require.Equal(t, "/reports/r", r.Status.Report.Path)
	require.Len(t, r.Status.Journal, 1)

	got, err = Summarize(full(v1alpha1.RunRunning))
	require.NoError(t, err)
	r = got.(*v1alpha1.DrillRun)
	require.Len(t, r.Status.Steps, 1, "a run in progress is kept whole")
	require.NotNil(t, r.Status.PlanSpec)
}
