package liveness_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
	"github.com/firedrill/firedrill/pkg/platform/kube/liveness"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// heartbeat is run's Lease in recsys, last renewed at renewed.
func heartbeat(run string, renewed time.Time) *coordinationv1.Lease {
	key := lease.KeyOf("recsys", run)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: map[string]string{marks.LabelRunID: run}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(run), RenewTime: &metav1.MicroTime{Time: renewed}, LeaseDurationSeconds: ptr.To[int32](15)},
	}
}

// fakeMarks lists objects and records the reverts asked of it.
type fakeMarks struct {
	objects  []marks.Object
	reverted []string
	fail     error
}

func (f *fakeMarks) Marked(_ context.Context, _ []string, _ marks.Filter) ([]marks.Object, error) {
	return slices.Clone(f.objects), nil // a fresh list, as a live read returns
}

func (f *fakeMarks) Revert(_ context.Context, runID, fault string, t evidence.Target) error {
	f.reverted = append(f.reverted, runID+"/"+fault+" "+t.String())
	return f.fail
}

// marked is an object of kind and name that step fault of run marked.
func marked(run, fault string, kind evidence.TargetKind, name string) marks.Object {
	return marks.Object{Target: evidence.Target{Kind: kind, Name: name}, RunID: run, Fault: fault, Heartbeat: lease.KeyOf("recsys", run).String()}
}

func cluster(t *testing.T, m *fakeMarks, objs ...runtime.Object) (liveness.Cluster, client.Client) {
	t.Helper()
	c := fixtures.Client(t, interceptor.Funcs{}, objs...)
	return liveness.Cluster{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Marks: m}, c
}

func TestJudgeReadsEachRunsHeartbeatOnce(t *testing.T) {
	m := &fakeMarks{objects: []marks.Object{
		marked("live", "kill", evidence.KindNode, "n1"),
		marked("stale", "drain", evidence.KindNode, "n2"),
		marked("live", "kill", marks.KindWorkload, "Deployment/recsys/a"),
		{Target: evidence.Target{Kind: evidence.KindNode, Name: "n3"}, RunID: "old", Fault: "drain"},
		marked("gone", "drain", evidence.KindNode, "n4"),
	}}
	c, _ := cluster(t, m, heartbeat("live", now.Add(-5*time.Second)), heartbeat("stale", now.Add(-time.Minute)))
	runs := c.Judge(context.Background(), m.objects, lease.DefaultGrace)
	got := map[string]lease.State{}
	var order []string
	for _, r := range runs {
		require.NoError(t, r.Err)
		got[r.RunID] = r.Status.State
		order = append(order, r.RunID)
	}
	require.Equal(t, []string{"live", "stale", "old", "gone"}, order, "runs in the order first seen")
	require.Equal(t, map[string]lease.State{"live": lease.Live, "stale": lease.Stale, "old": lease.Missing, "gone": lease.Missing}, got)
	require.Len(t, runs[0].Objects, 2)
}

func TestHeldNamesEveryRunThatHoldsAPlansTargets(t *testing.T) {
	m := &fakeMarks{objects: []marks.Object{
		marked("live", "kill", marks.KindWorkload, "Deployment/recsys/a"),
		marked("dead", "drain", evidence.KindNode, "n1"),
	}}
	c, _ := cluster(t, m, heartbeat("live", now.Add(-time.Second)))
	noNodes := &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}}}}
	err := c.Held(context.Background(), []string{"recsys"}, noNodes, 0)
	require.ErrorContains(t, err, "run live is live on this cluster")
	require.NotContains(t, err.Error(), "run dead", "a plan that touches no node ignores marked nodes")

	drains := &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "drain", Fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}}}}
	err = c.Held(context.Background(), []string{"recsys"}, drains, 0)
	require.ErrorContains(t, err, "run dead left faults on this cluster and is not running")
	require.ErrorContains(t, err, "node/n1 (step drain)")
}

func TestRecoverOrphansRevertsDeadRunsOnly(t *testing.T) {
	objects := []marks.Object{
		marked("live", "kill", marks.KindWorkload, "Deployment/recsys/a"),
		marked("dead", "drain", evidence.KindNode, "n1"),
		marked("dead", "cutover", marks.KindService, "recsys/frontdoor"),
	}
	tests := []struct {
		name         string
		opts         liveness.OrphanOptions
		fail         error
		wantReverted []string
		wantLease    bool
		wantErr      string
	}{
		{name: "a dead run's faults are reverted and its heartbeat deleted",
			wantReverted: []string{"dead/drain node/n1", "dead/cutover service/recsys/frontdoor"}},
		{name: "a dry run reverts nothing", opts: liveness.OrphanOptions{DryRun: true}, wantLease: true},
		{name: "a failed revert keeps the heartbeat", fail: errors.New("boom"), wantLease: true,
			wantReverted: []string{"dead/drain node/n1", "dead/cutover service/recsys/frontdoor"}, wantErr: "run dead step drain: node/n1: boom"},
		{name: "a grace shorter than the minimum is refused", opts: liveness.OrphanOptions{Grace: time.Second},
			wantLease: true, wantErr: "a grace of 1s is shorter than 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeMarks{objects: objects, fail: tt.fail}
			c, kc := cluster(t, m, heartbeat("live", now.Add(-time.Second)), heartbeat("dead", now.Add(-time.Hour)))
			orphans, err := c.RecoverOrphans(context.Background(), tt.opts)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantReverted, m.reverted)
			l, err := lease.Get(context.Background(), kc, lease.KeyOf("recsys", "dead"))
			require.NoError(t, err)
			require.Equal(t, tt.wantLease, l != nil)
			for _, o := range orphans {
				require.Equal(t, o.RunID == "live", o.Live(), "%s/%s", o.RunID, o.Fault)
			}
		})
	}
}
