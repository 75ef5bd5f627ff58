package validation

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// scheduled is a minimal valid plan on the local sandbox with spec edits.
func scheduled(edit func(s *v1alpha1.DrillPlanSpec)) *v1alpha1.DrillPlan {
	p := &v1alpha1.DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: v1alpha1.DrillPlanSpec{
		Steps: []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}},
	}}
	edit(&p.Spec)
	v1alpha1.SetDefaults_DrillPlan(p)
	return p
}

func TestScheduleDefaults(t *testing.T) {
	t.Run("a scheduled plan gets the policy and both history limits", func(t *testing.T) {
		p := scheduled(func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "@daily" })
		require.Equal(t, v1alpha1.ConcurrencyForbid, p.Spec.ConcurrencyPolicy)
		require.Equal(t, ptr.To[int32](3), p.Spec.SuccessfulRunsHistoryLimit)
		require.Equal(t, ptr.To[int32](3), p.Spec.FailedRunsHistoryLimit)
		require.Nil(t, p.Spec.StartingDeadlineSeconds, "no deadline unless one is set")
		require.Empty(t, p.Spec.TimeZone, "unset is UTC, and stays unset")
		require.Empty(t, ValidateDrillPlan(p))
	})
	t.Run("a plan without a schedule gets none of them", func(t *testing.T) {
		p := scheduled(func(*v1alpha1.DrillPlanSpec) {})
		require.Empty(t, p.Spec.ConcurrencyPolicy)
		require.Nil(t, p.Spec.SuccessfulRunsHistoryLimit)
		require.Nil(t, p.Spec.FailedRunsHistoryLimit)
		require.Empty(t, ValidateDrillPlan(p))
	})
	t.Run("set values are kept, zero limits included", func(t *testing.T) {
		p := scheduled(func(s *v1alpha1.DrillPlanSpec) {
			s.Schedule = "@every 30s"
			s.ConcurrencyPolicy = v1alpha1.ConcurrencyReplace
			s.SuccessfulRunsHistoryLimit = ptr.To[int32](0)
			s.FailedRunsHistoryLimit = ptr.To[int32](10)
		})
		require.Equal(t, v1alpha1.ConcurrencyReplace, p.Spec.ConcurrencyPolicy)
		require.Equal(t, ptr.To[int32](0), p.Spec.SuccessfulRunsHistoryLimit)
		require.Equal(t, ptr.To[int32](10), p.Spec.FailedRunsHistoryLimit)
		once := p.DeepCopy()
		v1alpha1.SetDefaults_DrillPlan(p)
		require.Equal(t, once, p, "defaulting is idempotent")
	})
}

func TestValidateScheduling(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *v1alpha1.DrillPlanSpec)
		plan string // the plan's name; "nightly" when empty
		want []string
	}{
		{name: "a cron schedule in a time zone with every field is valid", edit: func(s *v1alpha1.DrillPlanSpec) {
			s.Schedule, s.TimeZone, s.Suspend = "30 2 * * *", "America/New_York", true
			s.ConcurrencyPolicy, s.StartingDeadlineSeconds = v1alpha1.ConcurrencyReplace, ptr.To[int64](300)
		}},
		{name: "Allow is valid with concurrent runs allowed", edit: func(s *v1alpha1.DrillPlanSpec) {
			s.Schedule, s.ConcurrencyPolicy, s.Safety.AllowConcurrentRuns = "@hourly", v1alpha1.ConcurrencyAllow, true
		}},
		{name: "a 47-character name is the longest a scheduled plan may have", plan: strings.Repeat("a", 47), edit: func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "@daily" }},
		{name: "a 48-character name is too long for a scheduled plan", plan: strings.Repeat("a", 48), edit: func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "@daily" },
			want: []string{"metadata.name: Invalid value: \"" + strings.Repeat("a", 48) + "\": a plan with a schedule has a name of at most 47 characters"}},
		{name: "a long name is fine without a schedule", plan: strings.Repeat("a", 60), edit: func(*v1alpha1.DrillPlanSpec) {}},
		{name: "suspend without a schedule is refused", edit: func(s *v1alpha1.DrillPlanSpec) { s.Suspend = true },
			want: []string{"spec.suspend: Forbidden: suspends a schedule, and the plan has none"}},
		{name: "every scheduling field without a schedule is refused at once", edit: func(s *v1alpha1.DrillPlanSpec) {
			s.TimeZone, s.ConcurrencyPolicy, s.StartingDeadlineSeconds = "UTC", v1alpha1.ConcurrencyForbid, ptr.To[int64](60)
			s.SuccessfulRunsHistoryLimit, s.FailedRunsHistoryLimit = ptr.To[int32](1), ptr.To[int32](1)
		}, want: []string{
			"spec.timeZone: Forbidden: only allowed with a schedule",
			"spec.concurrencyPolicy: Forbidden: only allowed with a schedule",
			"spec.startingDeadlineSeconds: Forbidden: only allowed with a schedule",
			"spec.successfulRunsHistoryLimit: Forbidden: only allowed with a schedule",
			"spec.failedRunsHistoryLimit: Forbidden: only allowed with a schedule",
		}},
		{name: "a bad schedule and a bad zone are both reported", edit: func(s *v1alpha1.DrillPlanSpec) { s.Schedule, s.TimeZone = "0 3 * *", "Mars/Olympus" },
			want: []string{"spec.schedule: Invalid value", "spec.timeZone: Invalid value: \"Mars/Olympus\""}},
		{name: "a zone with @every is refused", edit: func(s *v1alpha1.DrillPlanSpec) { s.Schedule, s.TimeZone = "@every 30s", "UTC" },
			want: []string{"spec.timeZone: Forbidden: @every runs at a constant interval, in no time zone"}},
		{name: "Allow without concurrent runs allowed is refused", edit: func(s *v1alpha1.DrillPlanSpec) {
			s.Schedule, s.ConcurrencyPolicy = "@hourly", v1alpha1.ConcurrencyAllow
		},
			want: []string{"spec.concurrencyPolicy: Invalid value: \"Allow\": starts runs alongside active ones"}},
		{name: "an unknown policy is refused", edit: func(s *v1alpha1.DrillPlanSpec) { s.Schedule, s.ConcurrencyPolicy = "@hourly", "Queue" },
			want: []string{`spec.concurrencyPolicy: Unsupported value: "Queue": supported values: "Forbid", "Allow", "Replace"`}},
		{name: "out-of-range deadline and limits are each reported", edit: func(s *v1alpha1.DrillPlanSpec) {
			s.Schedule, s.StartingDeadlineSeconds = "@daily", ptr.To[int64](MaxStartingDeadlineSeconds+1)
			s.SuccessfulRunsHistoryLimit, s.FailedRunsHistoryLimit = ptr.To[int32](-1), ptr.To[int32](1001)
		}, want: []string{
			"spec.startingDeadlineSeconds: Invalid value: 31622401: must be between 1 and 31622400",
			"spec.successfulRunsHistoryLimit: Invalid value: -1: must be between 0 and 1000",
			"spec.failedRunsHistoryLimit: Invalid value: 1001: must be between 0 and 1000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := scheduled(tt.edit)
			if tt.plan != "" {
				p.Name = tt.plan
			}
			errs := ValidateDrillPlan(p)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			require.Len(t, got, len(tt.want), "problems: %v", got)
			for i, want := range tt.want {
				require.Contains(t, got[i], want)
			}
		})
	}
}

func TestValidateDrillRunOrigin(t *testing.T) {
	at := &metav1.Time{Time: time.Date(2026, time.April, 1, 3, 0, 0, 0, time.UTC)}
	hash := strings.Repeat("ab", 32)
	ref := &v1alpha1.PlanReference{Name: "quarterly"}
	tests := []struct {
		name string
		spec v1alpha1.DrillRunSpec
		want []string
	}{
		{name: "a scheduled run with its fire and plan hash is valid", spec: v1alpha1.DrillRunSpec{PlanRef: ref, Trigger: v1alpha1.TriggerSchedule, ScheduledTime: at, PlanHash: hash}},
		{name: "a manual run may record the plan hash", spec: v1alpha1.DrillRunSpec{PlanRef: ref, PlanHash: hash}},
		{name: "a scheduled run without its fire is refused", spec: v1alpha1.DrillRunSpec{PlanRef: ref, Trigger: v1alpha1.TriggerSchedule},
			want: []string{"spec.scheduledTime: Required value"}},
		{name: "a fire on a manual run is refused", spec: v1alpha1.DrillRunSpec{PlanRef: ref, ScheduledTime: at},
			want: []string{"spec.scheduledTime: Forbidden: only allowed with trigger schedule"}},
		{name: "a scheduled run of an inline plan is refused", spec: v1alpha1.DrillRunSpec{Plan: &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "w", Wait: &metav1.Duration{Duration: time.Second}}}}, Trigger: v1alpha1.TriggerSchedule, ScheduledTime: at},
			want: []string{"spec.planRef: Required value: a run started by the schedule references its plan"}},
		{name: "a plan hash of an inline plan is refused", spec: v1alpha1.DrillRunSpec{Plan: &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "w", Wait: &metav1.Duration{Duration: time.Second}}}}, PlanHash: hash},
			want: []string{"spec.planHash: Forbidden: only allowed with planRef"}},
		{name: "a plan hash that is not a sha256 is refused", spec: v1alpha1.DrillRunSpec{PlanRef: ref, PlanHash: "ABC"},
			want: []string{`spec.planHash: Invalid value: "ABC": must be a sha256 in lowercase hex`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &v1alpha1.DrillRun{Spec: tt.spec}
			v1alpha1.SetDefaults_DrillRun(r)
			var got []string
			for _, e := range ValidateDrillRun(r) {
				got = append(got, e.Error())
			}
			require.Len(t, got, len(tt.want), "problems: %v", got)
			for i, want := range tt.want {
				require.Contains(t, got[i], want)
			}
		})
	}
}
