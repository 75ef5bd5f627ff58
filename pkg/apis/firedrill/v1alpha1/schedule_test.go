package v1alpha1

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, time.March, 4, 10, 17, 0, 0, time.UTC) // a Wednesday
	tests := []struct {
		name     string
		schedule string
		next     time.Time     // the first fire after from, for cron schedules
		every    time.Duration // the period, for @every
		wantErr  string
	}{
		{name: "five fields fire at the named minute", schedule: "30 2 * * *", next: time.Date(2026, time.March, 5, 2, 30, 0, 0, time.UTC)},
		{name: "day names are accepted", schedule: "0 9 * * MON-FRI", next: time.Date(2026, time.March, 5, 9, 0, 0, 0, time.UTC)},
		{name: "the quarterly schedule fires on the first of the next quarter", schedule: "0 3 1 1,4,7,10 *", next: time.Date(2026, time.April, 1, 3, 0, 0, 0, time.UTC)},
		{name: "surrounding spaces are ignored", schedule: "  0 * * * *  ", next: time.Date(2026, time.March, 4, 11, 0, 0, 0, time.UTC)},
		{name: "@daily is midnight", schedule: "@daily", next: time.Date(2026, time.March, 5, 0, 0, 0, 0, time.UTC)},
		{name: "@hourly is on the hour", schedule: "@hourly", next: time.Date(2026, time.March, 4, 11, 0, 0, 0, time.UTC)},
		{name: "February 29 fires in a leap year", schedule: "0 0 29 2 *", next: time.Date(2028, time.February, 29, 0, 0, 0, 0, time.UTC)},
		{name: "@every takes whole seconds", schedule: "@every 30s", every: 30 * time.Second},
		{name: "@every takes any whole duration", schedule: "@every 1h30m", every: 90 * time.Minute},
		{name: "@every one second is the shortest", schedule: "@every 1s", every: time.Second},
		{name: "an empty schedule is refused", schedule: " ", wantErr: "must not be empty"},
		{name: "four fields are refused", schedule: "0 3 * *", wantErr: "must have five fields (minute hour day-of-month month day-of-week), found 4"},
		{name: "a seconds field is refused with the short form named", schedule: "*/30 * * * * *", wantErr: `a seconds field is not supported; use "@every 30s"`},
		{name: "CRON_TZ is refused for timeZone", schedule: "CRON_TZ=Europe/Paris 0 3 * * *", wantErr: "set spec.timeZone"},
		{name: "TZ is refused for timeZone", schedule: "TZ=UTC 0 3 * * *", wantErr: "set spec.timeZone"},
		{name: "a prefix without a space does not panic", schedule: "TZ=UTC", wantErr: "set spec.timeZone"},
		{name: "a minute out of range is refused", schedule: "60 * * * *", wantErr: "above maximum"},
		{name: "an unknown descriptor is refused", schedule: "@fortnightly", wantErr: "unrecognized descriptor"},
		{name: "a date that never exists is refused", schedule: "0 0 31 4 *", wantErr: "never fires"},
		{name: "@every below a second is refused, not rounded", schedule: "@every 500ms", wantErr: "at least 1s"},
		{name: "@every with a fraction of a second is refused, not truncated", schedule: "@every 2500ms", wantErr: "whole number of seconds, not 2.5s"},
		{name: "@every without a unit is refused", schedule: "@every 30", wantErr: "missing unit"},
		{name: "@every zero is refused", schedule: "@every 0s", wantErr: "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchedule(tt.schedule)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			if tt.every > 0 {
				require.Equal(t, cron.ConstantDelaySchedule{Delay: tt.every}, got)
				return
			}
			spec, ok := got.(*cron.SpecSchedule)
			require.True(t, ok, "a cron schedule is a *cron.SpecSchedule, got %T", got)
			require.Equal(t, time.UTC, spec.Location, "the machine's zone never leaks into a schedule")
			require.Equal(t, tt.next, spec.Next(from))
		})
	}
}

func TestLoadTimeZone(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		want    string
		wantErr string
	}{
		{name: "unset is UTC", zone: "", want: "UTC"},
		{name: "an IANA name loads", zone: "America/New_York", want: "America/New_York"},
		{name: "a zone with a half-hour shift loads", zone: "Australia/Lord_Howe", want: "Australia/Lord_Howe"},
		{name: "the machine's zone is refused", zone: "Local", wantErr: "not the machine's local zone"},
		{name: "the machine's zone in any case is refused", zone: "local", wantErr: "not the machine's local zone"},
		{name: "an unknown zone is refused", zone: "America/Gotham", wantErr: "unknown time zone America/Gotham"},
		{name: "a path is refused", zone: "../etc/passwd", wantErr: "must be an IANA time zone name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := LoadTimeZone(tt.zone)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, loc.String())
		})
	}
}

// scheduled is a minimal valid plan on the local sandbox with spec edits.
func scheduled(edit func(s *DrillPlanSpec)) *DrillPlan {
	p := &DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: DrillPlanSpec{
		Steps: []Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}},
	}}
	edit(&p.Spec)
	SetDefaults_DrillPlan(p)
	return p
}

func TestScheduleDefaults(t *testing.T) {
	t.Run("a scheduled plan gets the policy and both history limits", func(t *testing.T) {
		p := scheduled(func(s *DrillPlanSpec) { s.Schedule = "@daily" })
		require.Equal(t, ConcurrencyForbid, p.Spec.ConcurrencyPolicy)
		require.Equal(t, ptr.To[int32](3), p.Spec.SuccessfulRunsHistoryLimit)
		require.Equal(t, ptr.To[int32](3), p.Spec.FailedRunsHistoryLimit)
		require.Nil(t, p.Spec.StartingDeadlineSeconds, "no deadline unless one is set")
		require.Empty(t, p.Spec.TimeZone, "unset is UTC, and stays unset")
		require.Empty(t, ValidateDrillPlan(p))
	})
	t.Run("a plan without a schedule gets none of them", func(t *testing.T) {
		p := scheduled(func(*DrillPlanSpec) {})
		require.Empty(t, p.Spec.ConcurrencyPolicy)
		require.Nil(t, p.Spec.SuccessfulRunsHistoryLimit)
		require.Nil(t, p.Spec.FailedRunsHistoryLimit)
		require.Empty(t, ValidateDrillPlan(p))
	})
	t.Run("set values are kept, zero limits included", func(t *testing.T) {
		p := scheduled(func(s *DrillPlanSpec) {
			s.Schedule = "@every 30s"
			s.ConcurrencyPolicy = ConcurrencyReplace
			s.SuccessfulRunsHistoryLimit = ptr.To[int32](0)
			s.FailedRunsHistoryLimit = ptr.To[int32](10)
		})
		require.Equal(t, ConcurrencyReplace, p.Spec.ConcurrencyPolicy)
		require.Equal(t, ptr.To[int32](0), p.Spec.SuccessfulRunsHistoryLimit)
		require.Equal(t, ptr.To[int32](10), p.Spec.FailedRunsHistoryLimit)
		once := p.DeepCopy()
		SetDefaults_DrillPlan(p)
		require.Equal(t, once, p, "defaulting is idempotent")
	})
}

func TestValidateScheduling(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *DrillPlanSpec)
		plan string // the plan's name; "nightly" when empty
		want []string
	}{
		{name: "a cron schedule in a time zone with every field is valid", edit: func(s *DrillPlanSpec) {
			s.Schedule, s.TimeZone, s.Suspend = "30 2 * * *", "America/New_York", true
			s.ConcurrencyPolicy, s.StartingDeadlineSeconds = ConcurrencyReplace, ptr.To[int64](300)
		}},
		{name: "Allow is valid with concurrent runs allowed", edit: func(s *DrillPlanSpec) {
			s.Schedule, s.ConcurrencyPolicy, s.Safety.AllowConcurrentRuns = "@hourly", ConcurrencyAllow, true
		}},
		{name: "a 47-character name is the longest a scheduled plan may have", plan: strings.Repeat("a", 47), edit: func(s *DrillPlanSpec) { s.Schedule = "@daily" }},
		{name: "a 48-character name is too long for a scheduled plan", plan: strings.Repeat("a", 48), edit: func(s *DrillPlanSpec) { s.Schedule = "@daily" },
			want: []string{"metadata.name: Invalid value: \"" + strings.Repeat("a", 48) + "\": a plan with a schedule has a name of at most 47 characters"}},
		{name: "a long name is fine without a schedule", plan: strings.Repeat("a", 60), edit: func(*DrillPlanSpec) {}},
		{name: "suspend without a schedule is refused", edit: func(s *DrillPlanSpec) { s.Suspend = true },
			want: []string{"spec.suspend: Forbidden: suspends a schedule, and the plan has none"}},
		{name: "every scheduling field without a schedule is refused at once", edit: func(s *DrillPlanSpec) {
			s.TimeZone, s.ConcurrencyPolicy, s.StartingDeadlineSeconds = "UTC", ConcurrencyForbid, ptr.To[int64](60)
			s.SuccessfulRunsHistoryLimit, s.FailedRunsHistoryLimit = ptr.To[int32](1), ptr.To[int32](1)
		}, want: []string{
			"spec.timeZone: Forbidden: only allowed with a schedule",
			"spec.concurrencyPolicy: Forbidden: only allowed with a schedule",
			"spec.startingDeadlineSeconds: Forbidden: only allowed with a schedule",
			"spec.successfulRunsHistoryLimit: Forbidden: only allowed with a schedule",
			"spec.failedRunsHistoryLimit: Forbidden: only allowed with a schedule",
		}},
		{name: "a bad schedule and a bad zone are both reported", edit: func(s *DrillPlanSpec) { s.Schedule, s.TimeZone = "0 3 * *", "Mars/Olympus" },
			want: []string{"spec.schedule: Invalid value", "spec.timeZone: Invalid value: \"Mars/Olympus\""}},
		{name: "a zone with @every is refused", edit: func(s *DrillPlanSpec) { s.Schedule, s.TimeZone = "@every 30s", "UTC" },
			want: []string{"spec.timeZone: Forbidden: @every runs at a constant interval, in no time zone"}},
		{name: "Allow without concurrent runs allowed is refused", edit: func(s *DrillPlanSpec) { s.Schedule, s.ConcurrencyPolicy = "@hourly", ConcurrencyAllow },
			want: []string{"spec.concurrencyPolicy: Invalid value: \"Allow\": starts runs alongside active ones"}},
		{name: "an unknown policy is refused", edit: func(s *DrillPlanSpec) { s.Schedule, s.ConcurrencyPolicy = "@hourly", "Queue" },
			want: []string{`spec.concurrencyPolicy: Unsupported value: "Queue": supported values: "Forbid", "Allow", "Replace"`}},
		{name: "out-of-range deadline and limits are each reported", edit: func(s *DrillPlanSpec) {
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
	ref := &PlanReference{Name: "quarterly"}
	tests := []struct {
		name string
		spec DrillRunSpec
		want []string
	}{
		{name: "a scheduled run with its fire and plan hash is valid", spec: DrillRunSpec{PlanRef: ref, Trigger: TriggerSchedule, ScheduledTime: at, PlanHash: hash}},
		{name: "a manual run may record the plan hash", spec: DrillRunSpec{PlanRef: ref, PlanHash: hash}},
		{name: "a scheduled run without its fire is refused", spec: DrillRunSpec{PlanRef: ref, Trigger: TriggerSchedule},
			want: []string{"spec.scheduledTime: Required value"}},
		{name: "a fire on a manual run is refused", spec: DrillRunSpec{PlanRef: ref, ScheduledTime: at},
			want: []string{"spec.scheduledTime: Forbidden: only allowed with trigger schedule"}},
		{name: "a scheduled run of an inline plan is refused", spec: DrillRunSpec{Plan: &DrillPlanSpec{Steps: []Step{{Name: "w", Wait: &metav1.Duration{Duration: time.Second}}}}, Trigger: TriggerSchedule, ScheduledTime: at},
			want: []string{"spec.planRef: Required value: a run started by the schedule references its plan"}},
		{name: "a plan hash of an inline plan is refused", spec: DrillRunSpec{Plan: &DrillPlanSpec{Steps: []Step{{Name: "w", Wait: &metav1.Duration{Duration: time.Second}}}}, PlanHash: hash},
			want: []string{"spec.planHash: Forbidden: only allowed with planRef"}},
		{name: "a plan hash that is not a sha256 is refused", spec: DrillRunSpec{PlanRef: ref, PlanHash: "ABC"},
			want: []string{`spec.planHash: Invalid value: "ABC": must be a sha256 in lowercase hex`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &DrillRun{Spec: tt.spec}
			SetDefaults_DrillRun(r)
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

// FuzzParseSchedule holds that no text panics the parser, and that what it
// accepts fires.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"30 2 * * *", "@every 30s", "@daily", "0 3 1 1,4,7,10 *", "*/5 9-17 * * MON-FRI", "TZ=", "CRON_TZ=x", "@every", "0 0 29 2 *", "0 0 31 2 *", "59 23 L * *", "? ? ? ? ?", "1-60/0 * * * *"} {
		f.Add(s)
	}
	from := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := ParseSchedule(s)
		if err != nil {
			return
		}
		switch sched := sched.(type) {
		case cron.ConstantDelaySchedule:
			if sched.Delay < time.Second || sched.Delay%time.Second != 0 {
				t.Fatalf("%q: @every %s is not whole seconds of at least 1s", s, sched.Delay)
			}
		case *cron.SpecSchedule:
			// A schedule fires within eight years of any date: February 29
			// can be eight years away around 2100.
			if next := sched.Next(from); next.IsZero() && sched.Next(from.AddDate(4, 0, 0)).IsZero() {
				t.Fatalf("%q was accepted but never fires", s)
			}
		default:
			t.Fatalf("%q: unexpected schedule type %T", s, sched)
		}
	})
}
