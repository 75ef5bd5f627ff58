package scheduler

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestPrune(t *testing.T) {
	day := func(d int) time.Time { return utc(2026, 4, d, 3, 0, 0) }
	name := func(d int) string { return RunName("nightly", day(d)) }
	history := []Run{
		scheduledRun(day(1), v1alpha1.RunSucceeded),
		scheduledRun(day(2), v1alpha1.RunFailed),
		scheduledRun(day(3), v1alpha1.RunSucceeded),
		scheduledRun(day(4), v1alpha1.RunAborted),
		scheduledRun(day(5), v1alpha1.RunSucceeded),
		scheduledRun(day(6), v1alpha1.RunError),
		scheduledRun(day(7), v1alpha1.RunSucceeded),
		scheduledRun(day(8), v1alpha1.RunRunning),
		scheduledRun(day(9), ""),
		manualRun("by-hand-1", v1alpha1.RunSucceeded, day(1)),
		manualRun("by-hand-2", v1alpha1.RunFailed, day(1)),
	}
	tests := []struct {
		name              string
		runs              []Run
		succeeded, failed *int32
		want              []string
	}{
		{name: "the oldest beyond each limit go, oldest fire first, outcomes counted apart",
			runs: history, succeeded: ptr.To[int32](2), failed: ptr.To[int32](1),
			want: []string{name(1), name(2), name(3), name(4)}},
		{name: "Aborted and Error count as failed",
			runs: history, succeeded: ptr.To[int32](10), failed: ptr.To[int32](2),
			want: []string{name(2)}},
		{name: "a limit of zero prunes every finished scheduled run of that outcome",
			runs: history, succeeded: ptr.To[int32](0), failed: ptr.To[int32](10),
			want: []string{name(1), name(3), name(5), name(7)}},
		{name: "active runs and runs started by hand are never pruned",
			runs: history, succeeded: ptr.To[int32](0), failed: ptr.To[int32](0),
			want: []string{name(1), name(2), name(3), name(4), name(5), name(6), name(7)}},
		{name: "no limit keeps every run",
			runs: history},
		{name: "runs within the limits are kept",
			runs: history, succeeded: ptr.To[int32](4), failed: ptr.To[int32](3)},
		{name: "the order of the runs given does not matter",
			runs:      []Run{scheduledRun(day(7), v1alpha1.RunSucceeded), scheduledRun(day(1), v1alpha1.RunSucceeded), scheduledRun(day(3), v1alpha1.RunSucceeded)},
			succeeded: ptr.To[int32](1), want: []string{name(1), name(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, prune(tt.runs, tt.succeeded, tt.failed))
		})
	}
}

func TestDecidePrunesThroughTheSpecLimits(t *testing.T) {
	p := plan(t, v1alpha1.ScheduleStatus{}, func(s *v1alpha1.DrillPlanSpec) { s.FailedRunsHistoryLimit = ptr.To[int32](1) })
	runs := []Run{
		scheduledRun(apr1, v1alpha1.RunFailed), scheduledRun(apr2, v1alpha1.RunFailed),
		scheduledRun(apr1.Add(-48*time.Hour), v1alpha1.RunSucceeded), scheduledRun(apr1.Add(-24*time.Hour), v1alpha1.RunSucceeded),
	}
	d, err := Decide(p, runs, apr3)
	require.NoError(t, err)
	require.Equal(t, []string{RunName("nightly", apr1)}, d.Prune, "the default keeps 3 succeeded; failed is set to 1")
}

func TestLastSuccessful(t *testing.T) {
	tests := []struct {
		name string
		was  *metav1.Time
		runs []Run
		want *metav1.Time
	}{
		{name: "no success, no time"},
		{name: "the latest completion of a succeeded run, started by hand or not",
			runs: []Run{scheduledRun(apr1, v1alpha1.RunSucceeded), manualRun("m", v1alpha1.RunSucceeded, apr2), manualRun("f", v1alpha1.RunFailed, apr3)},
			want: mt(apr2)},
		{name: "a time whose run was pruned since survives",
			was: mt(apr3), runs: []Run{scheduledRun(apr1, v1alpha1.RunSucceeded)}, want: mt(apr3)},
		{name: "a run that succeeded later replaces the time",
			was: mt(apr1), runs: []Run{scheduledRun(apr2, v1alpha1.RunSucceeded)}, want: mt(apr2.Add(40 * time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, lastSuccessful(tt.was, tt.runs))
		})
	}
}

func TestRunOf(t *testing.T) {
	done := metav1.NewMicroTime(apr2.Add(time.Hour))
	r := &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-20260402-030000"},
		Spec:       v1alpha1.DrillRunSpec{ScheduledTime: mt(apr2)},
		Status:     v1alpha1.DrillRunStatus{RunResult: v1alpha1.RunResult{Phase: v1alpha1.RunSucceeded, CompletionTime: &done}},
	}
	require.Equal(t, Run{Name: "nightly-20260402-030000", Scheduled: apr2, Phase: v1alpha1.RunSucceeded, Completed: done.Time}, RunOf(r))
	require.Equal(t, Run{Name: "fresh"}, RunOf(&v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}))
	require.True(t, RunOf(&v1alpha1.DrillRun{}).active(), "a run nobody picked up yet is active")
}

func TestRunName(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	fire := utc(2026, 3, 8, 7, 0, 0)
	tests := []struct {
		name string
		plan string
		fire time.Time
		want string
	}{
		{name: "the fire's UTC time to the second follows the plan's name", plan: "nightly", fire: fire, want: "nightly-20260308-070000"},
		{name: "the same instant in another zone has the same name", plan: "nightly", fire: fire.In(paris), want: "nightly-20260308-070000"},
		{name: "fires a second apart have different names", plan: "nightly", fire: fire.Add(time.Second), want: "nightly-20260308-070001"},
		{name: "fractions of a second do not change the name", plan: "nightly", fire: fire.Add(999 * time.Millisecond), want: "nightly-20260308-070000"},
		{name: "the longest scheduled plan name gives a 63-character name",
			plan: strings.Repeat("p", v1alpha1.MaxScheduledPlanName), fire: fire, want: strings.Repeat("p", v1alpha1.MaxScheduledPlanName) + "-20260308-070000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RunName(tt.plan, tt.fire)
			require.Equal(t, tt.want, got)
			require.Empty(t, validation.IsDNS1123Label(got), "a run's name is a DNS label")
			require.Empty(t, validation.IsValidLabelValue(got), "a run's name fits a label value")
		})
	}
	require.Len(t, RunName(strings.Repeat("p", v1alpha1.MaxScheduledPlanName), fire), validation.DNS1123LabelMaxLength)
	require.Regexp(t, regexp.MustCompile(`^nightly-\d{8}-\d{6}$`), RunName("nightly", time.Now()))
}
