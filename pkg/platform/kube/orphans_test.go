package kube

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
)

// withClock gives a fake platform a fake clock (its heartbeats then renew
// only when the test steps it) and stops its heartbeats at the end.
func withClock(t *testing.T, fc *fakeCluster, clk *clocktesting.FakeClock) *fakeCluster {
	t.Helper()
	fc.p.opts.Clock = clk
	fc.p.hb.Clock = clk
	fc.p.log = faultlog.New(clk)
	fc.p.log.SetRecorder(fc.events)
	t.Cleanup(func() { _ = fc.p.hb.Stop(context.Background()) })
	return fc
}

// later is another process's platform over fc's cluster, with clock clk.
func (fc *fakeCluster) later(spec *v1alpha1.DrillPlanSpec, clk *clocktesting.FakeClock) *Platform {
	return newPlatform(Options{Spec: spec, PollInterval: 10 * time.Millisecond, Clock: clk}, fc.c, fc.cs, fc.cs.Discovery())
}

// renewedAt sets when run's heartbeat in recsys was last renewed.
func renewedAt(t *testing.T, c client.Client, run string, at time.Time) {
	t.Helper()
	var l coordinationv1.Lease
	require.NoError(t, c.Get(t.Context(), client.ObjectKey{Namespace: "recsys", Name: lease.Name(run)}, &l))
	l.Spec.RenewTime = &metav1.MicroTime{Time: at}
	require.NoError(t, c.Update(t.Context(), &l))
}

func heartbeatOf(t *testing.T, c client.Client, run string) *coordinationv1.Lease {
	t.Helper()
	l, err := lease.Get(t.Context(), c, lease.KeyOf("recsys", run))
	require.NoError(t, err)
	return l
}

// oldDrillNode is a node a drill without heartbeats cordoned.
func oldDrillNode() runtime.Object {
	return fixtures.Node("east-2", "east", "8", "32Gi", 2, fixtures.Cordoned, fixtures.Annotated(map[string]string{
		AnnotationRunID: "old", AnnotationFault: "drain", AnnotationWasUnschedulable: "false",
	}))
}

func TestRecoverOrphansRevertsTheMarksOfDeadRunsOnly(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	spec := storeSpec()
	spec.System.Workloads = spec.System.Workloads[:1]
	fc := withClock(t, newFake(t, spec, interceptor.Funcs{}, append(storeObjects(), oldDrillNode())...), clk)
	store := evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}
	require.NoError(t, fc.p.Inject(ctx, storeFault("dead", &v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy}), store))
	require.NoError(t, fc.p.Inject(ctx, storeFault("live", &v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy}), store))
	// "dead" stopped renewing a minute ago; "live" renewed 2 s ago. A
	// run that died between faults left only its heartbeat.
	renewedAt(t, fc.c, "dead", fixtures.Epoch.Add(-time.Minute))
	renewedAt(t, fc.c, "live", fixtures.Epoch.Add(-2*time.Second))
	for _, run := range []string{"between", "idle"} {
		hb, err := lease.Start(ctx, lease.Options{Client: fc.c, Clock: clk, Namespace: "recsys", RunID: run})
		require.NoError(t, err)
		t.Cleanup(func() { _ = hb.Stop(context.Background()) })
	}
	renewedAt(t, fc.c, "between", fixtures.Epoch.Add(-time.Hour))
	policies := func() []string {
		var l networkingv1.NetworkPolicyList
		require.NoError(t, fc.c.List(ctx, &l))
		var out []string
		for _, np := range l.Items {
			out = append(out, np.Name)
		}
		return out
	}
	require.Len(t, policies(), 2)

	cleanup := fc.later(spec, clk)
	_, err := cleanup.RecoverOrphans(ctx, OrphanOptions{Grace: 5 * time.Second})
	require.ErrorContains(t, err, "a grace of 5s is shorter than 10s")

	dry, err := cleanup.RecoverOrphans(ctx, OrphanOptions{DryRun: true})
	require.NoError(t, err)
	require.Len(t, dry, 3)
	byRun := map[string]Orphan{}
	for _, o := range dry {
		byRun[o.RunID] = o
		require.False(t, o.Reverted, "a dry run reverts nothing")
	}
	require.Equal(t, []evidence.Target{{Kind: evidence.KindNode, Name: "east-2", Region: "east"}}, byRun["old"].Objects)
	require.Equal(t, lease.Missing, byRun["old"].Heartbeat.State, "marks that name no heartbeat are a dead run's")
	require.False(t, byRun["old"].Live())
	require.Equal(t, lease.Stale, byRun["dead"].Heartbeat.State)
	require.Equal(t, "store", byRun["dead"].Fault)
	require.Len(t, byRun["dead"].Objects, 1)
	require.Equal(t, lease.Live, byRun["live"].Heartbeat.State)
	require.True(t, byRun["live"].Live())
	require.Len(t, policies(), 2)
	require.True(t, getNode(t, fc, "east-2").Spec.Unschedulable)
	require.NotNil(t, heartbeatOf(t, fc.c, "between"), "a dry run deletes no heartbeat")

	got, err := cleanup.RecoverOrphans(ctx, OrphanOptions{})
	require.NoError(t, err)
	for _, o := range got {
		require.Equal(t, o.RunID != "live", o.Reverted, "run %s", o.RunID)
		require.NoError(t, o.Err)
	}
	require.Equal(t, []string{"firedrill-live-store-recommender-east"}, policies(), "a live run's policy is left alone")
	node := getNode(t, fc, "east-2")
	require.False(t, node.Spec.Unschedulable, "the old drill's node is uncordoned")
	require.NotContains(t, node.Annotations, AnnotationRunID)
	require.Nil(t, heartbeatOf(t, fc.c, "dead"), "a dead run's heartbeat goes with its last mark")
	require.Nil(t, heartbeatOf(t, fc.c, "between"), "a stale heartbeat without marks is deleted")
	require.NotNil(t, heartbeatOf(t, fc.c, "live"))
	require.NotNil(t, heartbeatOf(t, fc.c, "idle"), "a live heartbeat without marks is left")

	again, err := cleanup.RecoverOrphans(ctx, OrphanOptions{})
	require.NoError(t, err)
	require.Len(t, again, 1, "only the live run is left")
	require.Equal(t, "live", again[0].RunID)
}

func getNode(t *testing.T, fc *fakeCluster, name string) *corev1.Node {
	t.Helper()
	var n corev1.Node
	require.NoError(t, fc.c.Get(t.Context(), client.ObjectKey{Name: name}, &n))
	return &n
}

func TestPreflightRefusesTargetsAnotherRunHolds(t *testing.T) {
	podKill := v1alpha1.Step{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}}
	drain := v1alpha1.Step{Name: "drain", Fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}}
	scaleCutover := v1alpha1.Step{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Method: v1alpha1.CutoverScaleToZero}}}
	tests := []struct {
		name     string
		step     v1alpha1.Step
		renewed  time.Duration // how long ago the holder renewed; 0: it holds the store
		oldDrill bool
		want     []string
	}{
		{name: "a live run's store outage in the plan's namespace refuses the plan, naming the run", step: podKill, renewed: 3 * time.Second,
			want: []string{"run holder is live on this cluster (heartbeat Lease recsys/firedrill-run-holder renewed 3s ago by pid",
				"and holds workload/Deployment/recsys/model-store (step store): wait for it to finish, or stop it"}},
		{name: "a dead run's marks refuse the plan and say how to revert them", step: podKill, renewed: time.Minute,
			want: []string{"run holder left faults on this cluster and is not running (heartbeat Lease recsys/firedrill-run-holder last renewed 1m0s ago",
				"workload/Deployment/recsys/model-store (step store); revert them with drill cleanup on the machine that ran it, or drill cleanup --from-cluster"}},
		{name: "a node an old drill cordoned does not concern a plan that leaves nodes alone", step: scaleCutover, oldDrill: true},
		{name: "a node an old drill cordoned refuses a drain", step: drain, oldDrill: true,
			want: []string{"run old left faults on this cluster and is not running (no heartbeat: its marks name no heartbeat Lease",
				"node/east-2 (step drain)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			clk := clocktesting.NewFakeClock(fixtures.Epoch)
			spec := storeSpec()
			spec.Steps = []v1alpha1.Step{tt.step}
			objs := storeObjects()
			if tt.oldDrill {
				objs = append(objs, oldDrillNode())
			}
			fc := withClock(t, newFake(t, spec, interceptor.Funcs{}, objs...), clk)
			if tt.renewed > 0 {
				store := evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}
				require.NoError(t, fc.p.Inject(ctx, storeFault("holder", &v1alpha1.ModelStoreOutage{}), store))
				renewedAt(t, fc.c, "holder", fixtures.Epoch.Add(-tt.renewed))
			}
			err := fc.later(spec, clk).Preflight(ctx, spec)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestInjectRefusesOnceTheHeartbeatIsLost(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	fc := withClock(t, newFake(t, storeSpec(), interceptor.Funcs{}, storeObjects()...), clk)
	store := evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}
	f := storeFault("r1", &v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy})
	require.NoError(t, fc.p.Inject(ctx, f, store))
	l := heartbeatOf(t, fc.c, "r1")
	require.NotNil(t, l, "the heartbeat exists before the first mark")
	// Another process takes the run for dead and deletes its heartbeat.
	require.NoError(t, fc.c.Delete(ctx, l))
	require.Eventually(t, func() bool {
		clk.Step(DefaultHeartbeatInterval)
		return fc.p.Inject(ctx, f, store) != nil
	}, 5*time.Second, 10*time.Millisecond)
	require.ErrorContains(t, fc.p.Inject(ctx, f, store), "refusing to inject: heartbeat Lease recsys/firedrill-run-r1 was deleted")
	require.NoError(t, fc.p.Revert(ctx, f, store), "a run that lost its heartbeat still reverts")
	require.NoError(t, fc.p.Stop(ctx))
}

func TestRecoverForgetsTheDeadRunsHeartbeat(t *testing.T) {
	ctx := t.Context()
	clk := clocktesting.NewFakeClock(fixtures.Epoch)
	fc := withClock(t, newFake(t, storeSpec(), interceptor.Funcs{}, storeObjects()...), clk)
	store := evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}
	f := storeFault("r1", &v1alpha1.ModelStoreOutage{})
	require.NoError(t, fc.p.Inject(ctx, f, store))
	require.NotNil(t, heartbeatOf(t, fc.c, "r1"))
	require.NoError(t, fc.later(storeSpec(), clk).Recover(ctx, f, []evidence.Target{store}))
	require.Nil(t, heartbeatOf(t, fc.c, "r1"), "recovered from the journal, the dead run's heartbeat is deleted")
}
