package scheduler

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1/validation"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func mt(t time.Time) *metav1.Time { return &metav1.Time{Time: t.UTC()} }

// plan is a defaulted, valid plan named nightly, "0 3 * * *" in UTC
// (Forbid, history 3 and 3), after edit.
func plan(t *testing.T, status v1alpha1.ScheduleStatus, edit func(s *v1alpha1.DrillPlanSpec)) *v1alpha1.DrillPlan {
	t.Helper()
	p := &v1alpha1.DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: v1alpha1.DrillPlanSpec{
		Schedule: "0 3 * * *",
		Steps:    []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}},
	}}
	if edit != nil {
		edit(&p.Spec)
	}
	v1alpha1.SetDefaults_DrillPlan(p)
	require.Empty(t, validation.ValidateDrillPlan(p), "the test plan must be valid")
	p.Status.ScheduleStatus = status
	return p
}

func scheduledRun(fire time.Time, phase v1alpha1.RunPhase) Run {
	r := Run{Name: RunName("nightly", fire), Scheduled: fire, Phase: phase}
	if phase.IsTerminal() {
		r.Completed = fire.Add(40 * time.Minute)
	}
	return r
}

func manualRun(name string, phase v1alpha1.RunPhase, completed time.Time) Run {
	return Run{Name: name, Phase: phase, Completed: completed}
}

func ref(fire time.Time) v1alpha1.RunReference {
	return v1alpha1.RunReference{Name: RunName("nightly", fire), ScheduledTime: mt(fire)}
}

func deadline(s int64) func(*v1alpha1.DrillPlanSpec) {
	return func(sp *v1alpha1.DrillPlanSpec) { sp.StartingDeadlineSeconds = ptr.To(s) }
}

func policy(p v1alpha1.ConcurrencyPolicy) func(*v1alpha1.DrillPlanSpec) {
	return func(sp *v1alpha1.DrillPlanSpec) {
		sp.ConcurrencyPolicy = p
		sp.Safety.AllowConcurrentRuns = p == v1alpha1.ConcurrencyAllow
	}
}

func edits(fs ...func(*v1alpha1.DrillPlanSpec)) func(*v1alpha1.DrillPlanSpec) {
	return func(sp *v1alpha1.DrillPlanSpec) {
		for _, f := range fs {
			f(sp)
		}
	}
}

// decideCase is one decision: the plan's spec edits and status, its runs
// and the time, and the decision wanted, its message aside: messages are
// pinned by a golden file, one per test.
type decideCase struct {
	name   string
	spec   func(*v1alpha1.DrillPlanSpec)
	status v1alpha1.ScheduleStatus
	runs   []Run
	now    time.Time
	want   Decision
}

func runCases(t *testing.T, cases []decideCase) {
	t.Helper()
	var messages strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, tc.status, tc.spec)
			before := p.DeepCopy()
			got, err := Decide(p, tc.runs, tc.now)
			require.NoError(t, err)
			require.Equal(t, before, p, "Decide never changes the plan")
			requireIdempotent(t, p, tc.runs, tc.now, got)
			fmt.Fprintf(&messages, "%s\n  %s: %s\n", tc.name, got.Reason, got.Message)
			if m := got.Status.Missed; m != nil {
				fmt.Fprintf(&messages, "  missed: %s\n", m.Message)
			}
			require.NotEmpty(t, got.Message)
			got.Message = ""
			if got.Status.Missed != nil {
				require.NotEmpty(t, got.Status.Missed.Message)
				if tc.status.Missed == nil || !tc.status.Missed.ScheduleTime.Equal(&got.Status.Missed.ScheduleTime) {
					got.Status.Missed.Message = ""
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
	golden.Assert(t, filepath.Join("testdata", t.Name()+".golden"), []byte(messages.String()))
}

// requireIdempotent holds that once a decision is carried out (its run
// created, its prunes deleted, its status written), deciding again at the
// same moment does nothing new.
func requireIdempotent(t *testing.T, p *v1alpha1.DrillPlan, runs []Run, now time.Time, d Decision) {
	t.Helper()
	p = p.DeepCopy()
	p.Status.ScheduleStatus = *d.Status.DeepCopy()
	var after []Run
	for _, r := range runs {
		if !slices.Contains(d.Prune, r.Name) {
			after = append(after, r)
		}
	}
	if d.Start != nil {
		after = append(after, Run{Name: d.Start.RunName, Scheduled: d.Start.Time})
	}
	again, err := Decide(p, after, now)
	require.NoError(t, err)
	require.Nil(t, again.Start, "a fire starts once")
	require.Empty(t, again.Prune, "pruned runs stay pruned")
	require.Equal(t, d.Abort, again.Abort, "the same runs are aborted until they finish")
	require.Equal(t, d.Waiting, again.Waiting)
	require.Equal(t, d.Status, again.Status, "deciding again changes no status")
}
