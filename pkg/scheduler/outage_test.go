package scheduler

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestDecideAfterAnOutage(t *testing.T) {
	// drill serve announced the fire of March 30 and was down until April 2.
	mar29, mar30 := utc(2026, 3, 29, 3, 0, 0), utc(2026, 3, 30, 3, 0, 0)
	down := v1alpha1.ScheduleStatus{LastScheduleTime: mt(mar29), NextScheduleTime: mt(mar30)}
	missed := func(at time.Time, reason v1alpha1.MissedReason, n int32) *v1alpha1.MissedSchedule {
		return &v1alpha1.MissedSchedule{ScheduleTime: *mt(at), Reason: reason, Count: n}
	}
	start := func(fire, now time.Time, m *v1alpha1.MissedSchedule, next time.Time) Decision {
		return Decision{
			Start:        &Fire{Time: fire, RunName: RunName("nightly", fire), Late: now.Sub(fire)},
			Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(fire), NextScheduleTime: mt(next), Active: []v1alpha1.RunReference{ref(fire)}, Missed: m},
			RequeueAfter: next.Sub(now), Reason: ReasonStarting,
		}
	}
	every := func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "@every 30s" }
	minutely := func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "* * * * *" }
	jan1 := utc(2026, 1, 1, 0, 0, 0)
	runCases(t, []decideCase{
		{
			name:   "the latest missed fire starts once within the deadline and the earlier ones are superseded",
			spec:   deadline(600),
			status: down,
			now:    apr2.Add(4 * time.Minute),
			want:   start(apr2, apr2.Add(4*time.Minute), missed(apr1, v1alpha1.MissedSuperseded, 3), apr3),
		},
		{
			name:   "past the deadline the latest fire is recorded as missed, counting every fire",
			spec:   deadline(600),
			status: down,
			now:    apr2.Add(time.Hour),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(mar29), NextScheduleTime: mt(apr3), Missed: missed(apr2, v1alpha1.MissedDeadlineExceeded, 4)},
				RequeueAfter: 23 * time.Hour, Reason: ReasonMissed,
			},
		},
		{
			name:   "a fire exactly at its deadline still starts",
			spec:   deadline(600),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2)},
			now:    apr2.Add(10 * time.Minute),
			want:   start(apr2, apr2.Add(10*time.Minute), nil, apr3),
		},
		{
			name:   "a fire a second past its deadline is missed",
			spec:   deadline(600),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2)},
			now:    apr2.Add(10*time.Minute + time.Second),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3), Missed: missed(apr2, v1alpha1.MissedDeadlineExceeded, 1)},
				RequeueAfter: 24*time.Hour - 10*time.Minute - time.Second, Reason: ReasonMissed,
			},
		},
		{
			name: "the missed count goes on while no fire starts",
			spec: deadline(600),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(mar29), NextScheduleTime: mt(apr2),
				Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr1), Reason: v1alpha1.MissedDeadlineExceeded, Count: 3, Message: "earlier"}},
			now: apr2.Add(time.Hour),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(mar29), NextScheduleTime: mt(apr3), Missed: missed(apr2, v1alpha1.MissedDeadlineExceeded, 4)},
				RequeueAfter: 23 * time.Hour, Reason: ReasonMissed,
			},
		},
		{
			name: "the missed count starts again once a fire has started",
			spec: deadline(600),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2),
				Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(mar30), Reason: v1alpha1.MissedDeadlineExceeded, Count: 5, Message: "earlier"}},
			now: apr2.Add(time.Hour),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3), Missed: missed(apr2, v1alpha1.MissedDeadlineExceeded, 1)},
				RequeueAfter: 23 * time.Hour, Reason: ReasonMissed,
			},
		},
		{
			name: "a missed fire is not owed again",
			spec: deadline(600),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2),
				Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr2), Reason: v1alpha1.MissedDeadlineExceeded, Count: 1, Message: "earlier"}},
			now: apr2.Add(2 * time.Hour),
			want: Decision{
				Status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3),
					Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr2), Reason: v1alpha1.MissedDeadlineExceeded, Count: 1, Message: "earlier"}},
				RequeueAfter: 22 * time.Hour, Reason: ReasonScheduled,
			},
		},
		{
			name:   "a three-month outage of a minutely schedule counts 1000 missed fires and starts the latest",
			spec:   edits(minutely, deadline(60)),
			status: v1alpha1.ScheduleStatus{NextScheduleTime: mt(jan1)},
			now:    apr2.Add(30 * time.Second),
			want:   start(apr2, apr2.Add(30*time.Second), missed(apr2.Add(-time.Minute), v1alpha1.MissedSuperseded, v1alpha1.MaxMissedCount), apr2.Add(time.Minute)),
		},
		{
			name:   "a three-month outage of @every 30s stays on the grid of its first fire",
			spec:   every,
			status: v1alpha1.ScheduleStatus{NextScheduleTime: mt(jan1.Add(10 * time.Second))},
			now:    apr2.Add(25 * time.Second),
			want: start(apr2.Add(10*time.Second), apr2.Add(25*time.Second),
				missed(apr2.Add(-20*time.Second), v1alpha1.MissedSuperseded, v1alpha1.MaxMissedCount), apr2.Add(40*time.Second)),
		},
		{
			name:   "@every 30s fires on the grid of its first fire",
			spec:   every,
			status: v1alpha1.ScheduleStatus{NextScheduleTime: mt(apr2.Add(30 * time.Second))},
			now:    apr2.Add(30*time.Second + 200*time.Millisecond),
			want:   start(apr2.Add(30*time.Second), apr2.Add(30*time.Second+200*time.Millisecond), nil, apr2.Add(time.Minute)),
		},
		{
			name: "a new @every schedule first fires one period after now, to the second",
			spec: every,
			now:  apr2.Add(500 * time.Millisecond),
			want: Decision{Status: v1alpha1.ScheduleStatus{NextScheduleTime: mt(apr2.Add(30 * time.Second))}, RequeueAfter: 29*time.Second + 500*time.Millisecond, Reason: ReasonScheduled},
		},
		{
			name:   "a daily schedule changed to @every 30s does not wait for the announced day",
			spec:   every,
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3)},
			now:    apr2,
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2.Add(30 * time.Second))},
				RequeueAfter: 30 * time.Second, Reason: ReasonScheduled,
			},
		},
	})
}

func TestDecideAcrossDaylightSaving(t *testing.T) {
	newYork := func(schedule string) func(*v1alpha1.DrillPlanSpec) {
		return func(s *v1alpha1.DrillPlanSpec) { s.Schedule, s.TimeZone = schedule, "America/New_York" }
	}
	springFire := utc(2026, 3, 8, 7, 0, 0)    // 02:30 does not exist on March 8: 03:00 EDT
	fallFire := utc(2026, 11, 1, 5, 30, 0)    // 01:30 EDT, the first of two 01:30s
	fallRepeat := utc(2026, 11, 1, 6, 30, 0)  // 01:30 EST, the second
	fallNext := utc(2026, 11, 2, 6, 30, 0)    // 01:30 EST on November 2
	springBefore := utc(2026, 3, 7, 7, 30, 0) // 02:30 EST on March 7
	springAfter := utc(2026, 3, 9, 6, 30, 0)  // 02:30 EDT on March 9
	start := func(fire, next time.Time) Decision {
		return Decision{
			Start:        &Fire{Time: fire, RunName: RunName("nightly", fire)},
			Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(fire), NextScheduleTime: mt(next), Active: []v1alpha1.RunReference{ref(fire)}},
			RequeueAfter: next.Sub(fire), Reason: ReasonStarting,
		}
	}
	runCases(t, []decideCase{
		{
			name:   "the day before spring-forward announces 03:00 EDT for a 02:30 schedule",
			spec:   newYork("30 2 * * *"),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2026, 3, 6, 7, 30, 0)), NextScheduleTime: mt(springBefore)},
			now:    springBefore,
			want:   start(springBefore, springFire),
		},
		{
			name:   "on the spring-forward night a 02:30 fire starts at 03:00 EDT, once",
			spec:   newYork("30 2 * * *"),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(springBefore), NextScheduleTime: mt(springFire)},
			now:    springFire,
			want:   start(springFire, springAfter),
		},
		{
			name:   "on the fall-back night a 01:30 fire starts at the first 01:30",
			spec:   newYork("30 1 * * *"),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2026, 10, 31, 5, 30, 0)), NextScheduleTime: mt(fallFire)},
			now:    fallFire,
			want:   start(fallFire, fallNext),
		},
		{
			name: "on the fall-back night the second 01:30 starts nothing",
			spec: newYork("30 1 * * *"),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(fallFire), NextScheduleTime: mt(fallNext),
				Active: []v1alpha1.RunReference{ref(fallFire)}},
			runs: []Run{scheduledRun(fallFire, v1alpha1.RunSucceeded)},
			now:  fallRepeat,
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(fallFire), NextScheduleTime: mt(fallNext), LastSuccessfulTime: mt(fallFire.Add(40 * time.Minute))},
				RequeueAfter: 24 * time.Hour, Reason: ReasonScheduled,
			},
		},
	})
}
