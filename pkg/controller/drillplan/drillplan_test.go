package drillplan

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

var day = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func at(d, h, m, s int) time.Time {
	return day.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

func fireName(t time.Time) string { return scheduler.RunName("nightly", t) }

func ready(t *testing.T, p *v1alpha1.DrillPlan) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(p.Status.Conditions, conditions.Ready)
	require.NotNil(t, c, "Ready condition")
	return c
}

func TestAFireCreatesOneRunOwnedByThePlan(t *testing.T) {
	var patches int
	h := newHarness(t, at(0, 2, 0, 0), &interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			patches++
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}, newPlan())

	res := h.reconcile()
	require.Equal(t, time.Hour, res.RequeueAfter)
	p := h.plan()
	require.Equal(t, at(0, 3, 0, 0), p.Status.NextScheduleTime.UTC())
	require.Equal(t, int64(1), p.Status.ObservedGeneration)
	require.Equal(t, string(scheduler.ReasonScheduled), ready(t, p).Reason)
	require.Equal(t, metav1.ConditionTrue, ready(t, p).Status)
	require.Empty(t, h.runNames())

	h.at(at(0, 3, 0, 0).Add(400 * time.Millisecond))
	res = h.reconcile()
	require.Equal(t, 24*time.Hour-400*time.Millisecond, res.RequeueAfter)
	name := fireName(at(0, 3, 0, 0))
	require.Equal(t, []string{name}, h.runNames())
	run := h.runs()[name]
	require.Equal(t, v1alpha1.TriggerSchedule, run.Spec.Trigger)
	require.Equal(t, "nightly", run.Spec.PlanRef.Name)
	require.Equal(t, at(0, 3, 0, 0), run.Spec.ScheduledTime.UTC())
	require.Equal(t, runs.Hash(newPlan()), run.Spec.PlanHash)
	require.Len(t, run.Spec.PlanHash, 64)
	require.Equal(t, "nightly", run.Labels[runs.LabelPlan])
	owner := metav1.GetControllerOf(run)
	require.NotNil(t, owner)
	require.Equal(t, "DrillPlan", owner.Kind)
	require.Equal(t, "nightly", owner.Name)
	require.True(t, *owner.BlockOwnerDeletion)

	p = h.plan()
	require.Equal(t, at(0, 3, 0, 0), p.Status.LastScheduleTime.UTC())
	require.Equal(t, at(1, 3, 0, 0), p.Status.NextScheduleTime.UTC())
	require.Equal(t, []v1alpha1.RunReference{{Name: name, ScheduledTime: &metav1.Time{Time: at(0, 3, 0, 0)}}}, normalize(p.Status.Active))
	require.Equal(t, name, p.Status.LastRun.Name)

	// The decision after the start (the run's creation wakes the plan)
	// says Scheduled instead of Starting; deciding again after that at
	// the same moment changes nothing and writes nothing.
	h.reconcile()
	require.Equal(t, string(scheduler.ReasonScheduled), ready(t, h.plan()).Reason)
	before := patches
	h.reconcile()
	require.Equal(t, []string{name}, h.runNames())
	require.Equal(t, before, patches, "an idle reconcile must not write the status")
}

func normalize(refs []v1alpha1.RunReference) []v1alpha1.RunReference {
	for i := range refs {
		if refs[i].ScheduledTime != nil {
			refs[i].ScheduledTime = &metav1.Time{Time: refs[i].ScheduledTime.UTC()}
		}
	}
	return refs
}

func TestSuspend(t *testing.T) {
	h := newHarness(t, at(0, 2, 0, 0), nil, newPlan())
	h.reconcile()

	// Suspended before the fire: nothing starts, and the fire that came due
	// while suspended is not owed when the plan is resumed.
	p := h.plan()
	p.Spec.Suspend = true
	p.Generation++
	require.NoError(t, h.c.Update(t.Context(), p))
	h.at(at(0, 2, 30, 0))
	res := h.reconcile()
	require.Zero(t, res.RequeueAfter)
	p = h.plan()
	require.Nil(t, p.Status.NextScheduleTime)
	require.Equal(t, string(scheduler.ReasonSuspended), ready(t, p).Reason)

	h.at(at(0, 3, 0, 5))
	h.reconcile()
	require.Empty(t, h.runNames(), "a suspended plan fires nothing")

	p.Spec.Suspend = false
	p.Generation++
	require.NoError(t, h.c.Update(t.Context(), p))
	h.at(at(0, 10, 0, 0))
	h.reconcile()
	require.Empty(t, h.runNames(), "resuming does not owe the fire that came due while suspended")
	require.Equal(t, at(1, 3, 0, 0), h.plan().Status.NextScheduleTime.UTC())
}

func TestConcurrencyPolicies(t *testing.T) {
	first, second := at(0, 3, 0, 0), at(1, 3, 0, 0)
	tests := []struct {
		name   string
		policy v1alpha1.ConcurrencyPolicy
		// atSecond are the runs after the second fire while the first runs;
		// aborted says whether the first was asked to abort.
		atSecond []string
		aborted  bool
		reason   scheduler.Reason
		// afterFirstEnds are the runs once the first finished.
		afterFirstEnds []string
	}{
		{name: "Forbid holds the fire back until the active run finishes, then starts it late",
			policy: v1alpha1.ConcurrencyForbid, atSecond: []string{fireName(first)}, reason: scheduler.ReasonWaiting,
			afterFirstEnds: []string{fireName(first), fireName(second)}},
		{name: "Allow starts the fire's run alongside",
			policy: v1alpha1.ConcurrencyAllow, atSecond: []string{fireName(first), fireName(second)}, reason: scheduler.ReasonStarting,
			afterFirstEnds: []string{fireName(first), fireName(second)}},
		{name: "Replace asks the active run to abort and starts once it has finished",
			policy: v1alpha1.ConcurrencyReplace, atSecond: []string{fireName(first)}, aborted: true, reason: scheduler.ReasonReplacing,
			afterFirstEnds: []string{fireName(first), fireName(second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, at(0, 2, 0, 0), nil, newPlan(func(s *v1alpha1.DrillPlanSpec) {
				s.ConcurrencyPolicy = tt.policy
				s.Safety.AllowConcurrentRuns = tt.policy == v1alpha1.ConcurrencyAllow
			}))
			h.reconcile()
			h.at(first)
			h.reconcile()
			h.setPhase(fireName(first), v1alpha1.RunRunning)

			h.at(second.Add(time.Second))
			h.reconcile()
			require.Equal(t, tt.atSecond, h.runNames())
			run := h.runs()[fireName(first)]
			require.Equal(t, tt.aborted, run.Spec.Abort)
			if tt.aborted {
				require.Contains(t, run.Annotations[runs.AnnotationAbortReason], "concurrencyPolicy Replace")
			}
			p := h.plan()
			require.Equal(t, string(tt.reason), ready(t, p).Reason, ready(t, p).Message)
			if tt.policy != v1alpha1.ConcurrencyAllow {
				require.Equal(t, second, p.Status.NextScheduleTime.UTC(), "the waiting fire stays next")
			}

			phase := v1alpha1.RunSucceeded
			if tt.aborted {
				phase = v1alpha1.RunAborted
			}
			h.at(second.Add(5 * time.Minute))
			h.finish(fireName(first), phase)
			h.reconcile()
			require.Equal(t, tt.afterFirstEnds, h.runNames())
			p = h.plan()
			require.Equal(t, second, p.Status.LastScheduleTime.UTC())
			require.Equal(t, at(2, 3, 0, 0), p.Status.NextScheduleTime.UTC())
		})
	}
}

func TestStartingDeadlineAfterAnOutage(t *testing.T) {
	tests := []struct {
		name     string
		back     time.Time
		wantRuns []string
		missed   v1alpha1.MissedReason
		count    int32
	}{
		{name: "back within the deadline of the latest fire: it starts, the earlier ones are superseded",
			back: at(3, 3, 4, 0), wantRuns: []string{fireName(at(3, 3, 0, 0))}, missed: v1alpha1.MissedSuperseded, count: 3},
		{name: "back past the deadline: nothing starts, every fire is missed",
			back: at(3, 4, 0, 0), missed: v1alpha1.MissedDeadlineExceeded, count: 4},
		{name: "exactly at the deadline still starts",
			back: at(3, 3, 10, 0), wantRuns: []string{fireName(at(3, 3, 0, 0))}, missed: v1alpha1.MissedSuperseded, count: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, at(0, 2, 0, 0), nil, newPlan(func(s *v1alpha1.DrillPlanSpec) { s.StartingDeadlineSeconds = ptr.To[int64](600) }))
			h.reconcile() // announces 03:00 on day 0; drill serve is then down
			h.at(tt.back)
			h.reconcile()
			require.Equal(t, tt.wantRuns, h.runNames())
			p := h.plan()
			require.NotNil(t, p.Status.Missed)
			require.Equal(t, tt.missed, p.Status.Missed.Reason)
			require.Equal(t, tt.count, p.Status.Missed.Count)
			require.Equal(t, at(4, 3, 0, 0), p.Status.NextScheduleTime.UTC())
		})
	}
}

func TestHistoryLimitsPruneRunsWithTheirReports(t *testing.T) {
	manual := &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-by-hand", Namespace: ns, CreationTimestamp: metav1.NewTime(at(-1, 12, 0, 0))},
		Spec:       v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}, Trigger: v1alpha1.TriggerManual},
		Status:     v1alpha1.DrillRunStatus{RunResult: v1alpha1.RunResult{Phase: v1alpha1.RunFailed}},
	}
	h := newHarness(t, at(0, 2, 0, 0), nil, manual, newPlan(func(s *v1alpha1.DrillPlanSpec) {
		s.SuccessfulRunsHistoryLimit = ptr.To[int32](1)
		s.FailedRunsHistoryLimit = ptr.To[int32](1)
	}))
	h.reconcile()
	phases := []v1alpha1.RunPhase{v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunSucceeded, v1alpha1.RunAborted}
	for d, phase := range phases {
		h.at(at(d, 3, 0, 0))
		h.reconcile()
		h.at(at(d, 3, 30, 0))
		h.finish(fireName(at(d, 3, 0, 0)), phase)
		h.reconcile()
	}
	require.Equal(t, []string{fireName(at(2, 3, 0, 0)), fireName(at(3, 3, 0, 0)), "nightly-by-hand"}, h.runNames(),
		"the newest succeeded and the newest failed scheduled runs stay; runs started by hand are never pruned")
	require.Equal(t, []string{"/reports/" + fireName(at(0, 3, 0, 0)), "/reports/" + fireName(at(1, 3, 0, 0))}, h.reports.deleted)
	p := h.plan()
	require.Equal(t, at(2, 3, 30, 0), p.Status.LastSuccessfulTime.UTC(), "the last success survives pruning")
	require.Equal(t, fireName(at(3, 3, 0, 0)), p.Status.LastRun.Name)
	require.Equal(t, v1alpha1.RunAborted, p.Status.LastRun.Phase)
}

func TestTimeZonesAndDaylightSaving(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		zone     string
		from     time.Time
		until    time.Time
		want     []time.Time
	}{
		{name: "a zone's wall clock: 03:00 in Paris is 02:00 UTC in winter",
			schedule: "0 3 * * *", zone: "Europe/Paris",
			from: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), until: time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC), time.Date(2026, 12, 9, 2, 0, 0, 0, time.UTC)}},
		{name: "spring forward: 02:30 does not exist in New York and fires at 03:00 EDT",
			schedule: "30 2 * * *", zone: "America/New_York",
			from: time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), until: time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 6, 30, 0, 0, time.UTC)}},
		{name: "fall back: 01:30 happens twice in New York and fires the first time only",
			schedule: "30 1 * * *", zone: "America/New_York",
			from: time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), until: time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC)}},
		{name: "@every keeps absolute time across the change",
			schedule: "@every 1h",
			from:     time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC), until: time.Date(2026, 3, 8, 8, 30, 0, 0, time.UTC),
			want: []time.Time{time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.from, nil, newPlan(func(s *v1alpha1.DrillPlanSpec) {
				s.Schedule, s.TimeZone = tt.schedule, tt.zone
				s.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
				s.Safety.AllowConcurrentRuns = true
			}))
			// Follow the reconciler's own requeues, as the work queue would.
			var fired []time.Time
			for now := tt.from; !now.After(tt.until); {
				h.at(now)
				res := h.reconcile()
				for name, r := range h.runs() {
					if r.Spec.ScheduledTime != nil && !slices.ContainsFunc(fired, r.Spec.ScheduledTime.Time.Equal) {
						fired = append(fired, r.Spec.ScheduledTime.UTC())
						require.Equal(t, now, r.Spec.ScheduledTime.UTC(), "run %s starts on time", name)
					}
				}
				require.Positive(t, res.RequeueAfter)
				now = now.Add(res.RequeueAfter)
			}
			slices.SortFunc(fired, time.Time.Compare)
			require.Equal(t, tt.want, fired)
		})
	}
}

func TestPlansThatCannotBeScheduledAreStalled(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*v1alpha1.DrillPlanSpec)
		reason string
		msg    string
	}{
		{name: "a plan for the local sandbox", edit: func(s *v1alpha1.DrillPlanSpec) { s.Target.Platform = v1alpha1.PlatformLocal; s.System.Endpoint = "" },
			reason: ReasonUnsupportedPlatform, msg: "drill serve in a cluster does not"},
		{name: "a plan the validator refuses", edit: func(s *v1alpha1.DrillPlanSpec) { s.Steps = nil },
			reason: ReasonInvalid, msg: "spec.steps"},
		{name: "a plan whose time zone is unknown", edit: func(s *v1alpha1.DrillPlanSpec) { s.TimeZone = "Mars/Olympus_Mons" },
			reason: ReasonInvalid, msg: "timeZone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, at(0, 2, 59, 59), nil, newPlan(tt.edit))
			res := h.reconcile()
			require.Zero(t, res.RequeueAfter)
			h.at(at(0, 3, 0, 1))
			h.reconcile()
			require.Empty(t, h.runNames())
			p := h.plan()
			stalled := meta.FindStatusCondition(p.Status.Conditions, conditions.Stalled)
			require.NotNil(t, stalled)
			require.Equal(t, tt.reason, stalled.Reason)
			require.Contains(t, stalled.Message, tt.msg)
			require.Equal(t, metav1.ConditionFalse, ready(t, p).Status)
		})
	}
}

func TestCreatingTheFiresRun(t *testing.T) {
	t.Run("a failed create writes nothing and the next decision owes the same fire", func(t *testing.T) {
		fail := true
		h := newHarness(t, at(0, 2, 0, 0), &interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if fail {
					return errors.New("etcdserver: request timed out")
				}
				return c.Create(ctx, obj, opts...)
			},
		}, newPlan())
		h.reconcile()
		h.at(at(0, 3, 0, 1))
		_, err := h.r.Reconcile(t.Context(), reqFor("nightly"))
		require.ErrorContains(t, err, "request timed out")
		require.Equal(t, at(0, 3, 0, 0), h.plan().Status.NextScheduleTime.UTC(), "the status still owes the fire")
		require.Nil(t, h.plan().Status.LastScheduleTime)

		fail = false
		h.at(at(0, 3, 0, 2))
		h.reconcile()
		require.Equal(t, []string{fireName(at(0, 3, 0, 0))}, h.runNames())
	})
	t.Run("a run that already exists for the fire counts as started", func(t *testing.T) {
		existing := &v1alpha1.DrillRun{
			ObjectMeta: metav1.ObjectMeta{Name: fireName(at(0, 3, 0, 0)), Namespace: ns},
			Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "elsewhere"}, Trigger: v1alpha1.TriggerSchedule,
				ScheduledTime: &metav1.Time{Time: at(0, 3, 0, 0)}},
		}
		p := newPlan()
		p.Status.NextScheduleTime = &metav1.Time{Time: at(0, 3, 0, 0)}
		h := newHarness(t, at(0, 3, 0, 1), nil, p, existing)
		h.reconcile()
		require.Equal(t, []string{fireName(at(0, 3, 0, 0))}, h.runNames())
		require.Equal(t, at(0, 3, 0, 0), h.plan().Status.LastScheduleTime.UTC())
		require.Equal(t, at(1, 3, 0, 0), h.plan().Status.NextScheduleTime.UTC())
	})
}

// TestTheDrillMetricsHearOfEveryPlan: each decision tells the drill
// metrics the plan (as <namespace>/<name>) with its defaulted spec and
// next fire, none while suspended; a deleted plan is removed.
func TestTheDrillMetricsHearOfEveryPlan(t *testing.T) {
	h := newHarness(t, at(0, 2, 0, 0), nil, newPlan())
	h.reconcile()
	require.Equal(t, at(0, 3, 0, 0), h.drills.next[ns+"/nightly"].UTC())
	require.NotNil(t, h.drills.specs[ns+"/nightly"])
	require.Equal(t, v1alpha1.ConcurrencyForbid, h.drills.specs[ns+"/nightly"].ConcurrencyPolicy, "the defaulted spec")

	p := h.plan()
	p.Spec.Suspend = true
	p.Generation++
	require.NoError(t, h.c.Update(t.Context(), p))
	h.reconcile()
	require.True(t, h.drills.next[ns+"/nightly"].IsZero(), "a suspended plan has no next fire")

	require.NoError(t, h.c.Delete(t.Context(), h.plan()))
	h.reconcile()
	require.Equal(t, []string{ns + "/nightly"}, h.drills.deleted)
}
