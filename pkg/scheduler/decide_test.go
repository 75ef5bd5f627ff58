package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// The days of these tests: the plan fires at 03:00 UTC every day.
var (
	apr1 = utc(2026, 4, 1, 3, 0, 0)
	apr2 = utc(2026, 4, 2, 3, 0, 0)
	apr3 = utc(2026, 4, 3, 3, 0, 0)
)

func TestDecideSchedule(t *testing.T) {
	announced := v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2)}
	runCase := func(fire, now time.Time) Decision {
		return Decision{
			Start:        &Fire{Time: fire, RunName: RunName("nightly", fire), Late: now.Sub(fire)},
			Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(fire), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(fire)}},
			RequeueAfter: apr3.Sub(now), Reason: ReasonStarting,
		}
	}
	runCases(t, []decideCase{
		{
			name: "a plan without a schedule runs on demand and only reports its runs",
			spec: func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "" },
			runs: []Run{manualRun("by-hand", v1alpha1.RunRunning, time.Time{}), manualRun("earlier", v1alpha1.RunSucceeded, apr1)},
			now:  apr2,
			want: Decision{Status: v1alpha1.ScheduleStatus{LastSuccessfulTime: mt(apr1), Active: []v1alpha1.RunReference{{Name: "by-hand"}}}, Reason: ReasonOnDemand},
		},
		{
			name: "a new schedule starts from now and owes nothing from before",
			now:  utc(2026, 4, 1, 12, 0, 0),
			want: Decision{Status: v1alpha1.ScheduleStatus{NextScheduleTime: mt(apr2)}, RequeueAfter: 15 * time.Hour, Reason: ReasonScheduled},
		},
		{
			name:   "nothing is due before the announced fire",
			status: announced,
			now:    apr2.Add(-time.Second),
			want:   Decision{Status: announced, RequeueAfter: time.Second, Reason: ReasonScheduled},
		},
		{
			name:   "the announced fire starts its run on time",
			status: announced,
			now:    apr2,
			want:   runCase(apr2, apr2),
		},
		{
			name:   "without a deadline a fire starts however late",
			status: announced,
			now:    apr2.Add(6 * time.Hour),
			want:   runCase(apr2, apr2.Add(6*time.Hour)),
		},
		{
			name:   "a run already created for the fire is not created again",
			status: announced, // the status write after creating the run was lost
			runs:   []Run{scheduledRun(apr2, "")},
			now:    apr2.Add(5 * time.Second),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr2)}},
				RequeueAfter: 24*time.Hour - 5*time.Second, Reason: ReasonScheduled,
			},
		},
		{
			name:   "a suspended plan starts nothing and announces no fire",
			spec:   func(s *v1alpha1.DrillPlanSpec) { s.Suspend = true },
			status: announced,
			now:    apr2,
			want:   Decision{Status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1)}, Reason: ReasonSuspended},
		},
		{
			name:   "a suspended plan leaves its active runs alone",
			spec:   edits(func(s *v1alpha1.DrillPlanSpec) { s.Suspend = true }, policy(v1alpha1.ConcurrencyReplace)),
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1)},
			runs:   []Run{scheduledRun(apr1, v1alpha1.RunRunning)},
			now:    apr2,
			want:   Decision{Status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), Active: []v1alpha1.RunReference{ref(apr1)}}, Reason: ReasonSuspended},
		},
		{
			name:   "resuming restarts the schedule: fires that came due while suspended never run",
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2026, 3, 20, 3, 0, 0))}, // suspended since March 20
			now:    utc(2026, 4, 2, 10, 0, 0),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2026, 3, 20, 3, 0, 0)), NextScheduleTime: mt(apr3)},
				RequeueAfter: 17 * time.Hour, Reason: ReasonScheduled,
			},
		},
		{
			name:   "a cron schedule moved to an earlier hour does not fire for today's passed hour",
			spec:   func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "0 9 * * *" },
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(apr3)}, // announced by "0 3 * * *"
			now:    utc(2026, 4, 2, 10, 0, 0),
			want: Decision{
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(utc(2026, 4, 3, 9, 0, 0))},
				RequeueAfter: 23 * time.Hour, Reason: ReasonScheduled,
			},
		},
		{
			name:   "a schedule with no fire in the next five years announces none",
			spec:   func(s *v1alpha1.DrillPlanSpec) { s.Schedule = "0 0 29 2 *" }, // 2100 is no leap year
			status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2096, 2, 29, 0, 0, 0))},
			now:    utc(2097, 3, 1, 0, 0, 0),
			want:   Decision{Status: v1alpha1.ScheduleStatus{LastScheduleTime: mt(utc(2096, 2, 29, 0, 0, 0))}, Reason: ReasonScheduled},
		},
	})
}

func TestDecideConcurrency(t *testing.T) {
	announced := v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2)}
	running := scheduledRun(apr1, v1alpha1.RunRunning)
	manual := manualRun("by-hand", v1alpha1.RunPending, time.Time{})
	waiting := &Fire{Time: apr2, RunName: RunName("nightly", apr2)}
	runCases(t, []decideCase{
		{
			name:   "Forbid holds a due fire back while a run is active",
			status: announced,
			runs:   []Run{running},
			now:    apr2,
			want: Decision{
				Waiting:      waiting,
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2), Active: []v1alpha1.RunReference{ref(apr1)}},
				RequeueAfter: 24 * time.Hour, Reason: ReasonWaiting,
			},
		},
		{
			name:   "Forbid holds a fire back for a run started by hand too",
			status: announced,
			runs:   []Run{manual},
			now:    apr2,
			want: Decision{
				Waiting:      waiting,
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2), Active: []v1alpha1.RunReference{{Name: "by-hand"}}},
				RequeueAfter: 24 * time.Hour, Reason: ReasonWaiting,
			},
		},
		{
			name:   "Forbid decides again when the held fire's deadline passes",
			spec:   deadline(600),
			status: announced,
			runs:   []Run{running},
			now:    apr2.Add(time.Minute),
			want: Decision{
				Waiting:      &Fire{Time: apr2, RunName: RunName("nightly", apr2), Late: time.Minute},
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2), Active: []v1alpha1.RunReference{ref(apr1)}},
				RequeueAfter: 9*time.Minute + time.Second, Reason: ReasonWaiting,
			},
		},
		{
			name:   "Forbid starts the held fire once the active run has finished",
			spec:   deadline(3600),
			status: announced,
			runs:   []Run{scheduledRun(apr1, v1alpha1.RunFailed)},
			now:    apr2.Add(40 * time.Minute),
			want: Decision{
				Start:        &Fire{Time: apr2, RunName: RunName("nightly", apr2), Late: 40 * time.Minute},
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr2)}},
				RequeueAfter: 24*time.Hour - 40*time.Minute, Reason: ReasonStarting,
			},
		},
		{
			name:   "a held fire past its deadline is recorded as missed",
			spec:   deadline(600),
			status: announced,
			runs:   []Run{running},
			now:    apr2.Add(10*time.Minute + time.Second),
			want: Decision{
				Status: v1alpha1.ScheduleStatus{
					LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr1)},
					Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr2), Reason: v1alpha1.MissedDeadlineExceeded, Count: 1},
				},
				RequeueAfter: 24*time.Hour - 10*time.Minute - time.Second, Reason: ReasonMissed,
			},
		},
		{
			name:   "a held fire overtaken by the next one is superseded, and the next one waits",
			status: announced,
			runs:   []Run{running},
			now:    apr3,
			want: Decision{
				Waiting: &Fire{Time: apr3, RunName: RunName("nightly", apr3)},
				Status: v1alpha1.ScheduleStatus{
					LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr1)},
					Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr2), Reason: v1alpha1.MissedSuperseded, Count: 1},
				},
				RequeueAfter: 24 * time.Hour, Reason: ReasonWaiting,
			},
		},
		{
			name:   "Allow starts a run alongside the active one",
			spec:   policy(v1alpha1.ConcurrencyAllow),
			status: announced,
			runs:   []Run{running, manual},
			now:    apr2,
			want: Decision{
				Start:        &Fire{Time: apr2, RunName: RunName("nightly", apr2)},
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr1), ref(apr2), {Name: "by-hand"}}},
				RequeueAfter: 24 * time.Hour, Reason: ReasonStarting,
			},
		},
		{
			name:   "Replace aborts every active run and waits for them to revert",
			spec:   policy(v1alpha1.ConcurrencyReplace),
			status: announced,
			runs:   []Run{manual, running},
			now:    apr2,
			want: Decision{
				Abort: []string{RunName("nightly", apr1), "by-hand"}, Waiting: waiting,
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2), Active: []v1alpha1.RunReference{ref(apr1), {Name: "by-hand"}}},
				RequeueAfter: 24 * time.Hour, Reason: ReasonReplacing,
			},
		},
		{
			name:   "Replace starts the fire once the aborted runs have finished",
			spec:   policy(v1alpha1.ConcurrencyReplace),
			status: announced,
			runs:   []Run{scheduledRun(apr1, v1alpha1.RunAborted)},
			now:    apr2.Add(2 * time.Minute),
			want: Decision{
				Start:        &Fire{Time: apr2, RunName: RunName("nightly", apr2), Late: 2 * time.Minute},
				Status:       v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr2), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr2)}},
				RequeueAfter: 24*time.Hour - 2*time.Minute, Reason: ReasonStarting,
			},
		},
		{
			name:   "Replace records the fire as missed when reverting outlasts the deadline",
			spec:   edits(policy(v1alpha1.ConcurrencyReplace), deadline(60)),
			status: announced,
			runs:   []Run{running},
			now:    apr2.Add(2 * time.Minute),
			want: Decision{
				Status: v1alpha1.ScheduleStatus{
					LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr3), Active: []v1alpha1.RunReference{ref(apr1)},
					Missed: &v1alpha1.MissedSchedule{ScheduleTime: *mt(apr2), Reason: v1alpha1.MissedDeadlineExceeded, Count: 1},
				},
				RequeueAfter: 24*time.Hour - 2*time.Minute, Reason: ReasonMissed,
			},
		},
	})
}

func TestDecideRefusesAnUnreadableSchedule(t *testing.T) {
	p := plan(t, v1alpha1.ScheduleStatus{}, nil)
	p.Spec.TimeZone = "Mars/Olympus" // validation refuses this; a stored object may still hold it
	_, err := Decide(p, nil, apr1)
	require.ErrorContains(t, err, `plan nightly: time zone "Mars/Olympus"`)
}

func TestDecideOnAPlanStoredWithoutDefaults(t *testing.T) {
	p := plan(t, v1alpha1.ScheduleStatus{LastScheduleTime: mt(apr1), NextScheduleTime: mt(apr2)}, nil)
	p.Spec.ConcurrencyPolicy = "" // as kubectl stored it: the CRD has no default
	p.Spec.SuccessfulRunsHistoryLimit, p.Spec.FailedRunsHistoryLimit = nil, nil
	d, err := Decide(p, []Run{scheduledRun(apr1, v1alpha1.RunRunning), scheduledRun(apr1.Add(-24*time.Hour), v1alpha1.RunFailed)}, apr2)
	require.NoError(t, err)
	require.Nil(t, d.Start, "no policy is Forbid: the safe one")
	require.Equal(t, ReasonWaiting, d.Reason)
	require.Empty(t, d.Prune, "no limit keeps every run")
}
