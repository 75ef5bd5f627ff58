package fleet

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

// member is a hand-written Member that records the calls it gets.
type member struct {
	region    string
	calls     []string
	targets   []evidence.Target
	takeOver  error
	startErr  error
	preflight error
	points    []evidence.CapacityPoint
	missing   []string
	rec       evidence.Recorder
}

func (m *member) Name() string { return "kubernetes" }
func (m *member) Preflight(context.Context, *v1alpha1.DrillPlanSpec) error {
	m.calls = append(m.calls, "preflight")
	return m.preflight
}

func (m *member) Start(_ context.Context, rec evidence.Recorder) (platform.Info, error) {
	m.calls = append(m.calls, "start")
	m.rec = rec
	return platform.Info{Details: map[string]string{"cluster": "https://" + m.region}}, m.startErr
}

func (m *member) Stop(context.Context) error {
	m.calls = append(m.calls, "stop")
	return nil
}

func (m *member) Targets(_ context.Context, f platform.Fault) ([]evidence.Target, error) {
	m.calls = append(m.calls, "targets "+f.ID)
	return m.targets, nil
}

func (m *member) Inject(_ context.Context, f platform.Fault, t evidence.Target) error {
	m.calls = append(m.calls, "inject "+f.ID+" "+t.String())
	return nil
}

func (m *member) Revert(_ context.Context, f platform.Fault, t evidence.Target) error {
	m.calls = append(m.calls, "revert "+f.ID+" "+t.String())
	return nil
}

func (m *member) Recover(_ context.Context, f platform.Fault, ts []evidence.Target) error {
	m.calls = append(m.calls, "recover "+f.ID+" "+evidence.TargetNames(ts))
	return nil
}

func (m *member) Clusters() []evidence.Cluster {
	return []evidence.Cluster{{Region: m.region, Server: "https://" + m.region}}
}

func (m *member) Capacity(context.Context) ([]evidence.CapacityPoint, error) { return m.points, nil }

func (m *member) CanTakeOver(context.Context) error {
	m.calls = append(m.calls, "can take over")
	return m.takeOver
}

func (m *member) CapacityPresent(context.Context) ([]evidence.CapacityPoint, []string, error) {
	return m.points, m.missing, nil
}

func newFleet() (*Fleet, *member, *member) {
	east := &member{region: "east", targets: []evidence.Target{{Kind: evidence.KindPod, Name: "recsys/rec-east-1", Region: "east"}}}
	west := &member{region: "west", targets: []evidence.Target{{Kind: evidence.KindPod, Name: "recsys/rec-west-1", Region: "west"}}}
	return New(clocktesting.NewFakePassiveClock(fixtures.Epoch), Cluster{Region: "east", Member: east}, Cluster{Region: "west", Member: west}), east, west
}

func fault(id string, f *v1alpha1.Fault) platform.Fault {
	return platform.Fault{ID: id, RunID: "r1", Spec: f}
}

func TestTargetsRouteByRegion(t *testing.T) {
	tests := []struct {
		name      string
		fault     *v1alpha1.Fault
		want      []string
		eastCalls []string
		westCalls []string
		wantErr   string
	}{
		{name: "a fault naming a region acts in its cluster", fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "east"}},
			want: []string{"pod/recsys/rec-east-1"}, eastCalls: []string{"targets s"}},
		{name: "a fault naming no region acts in every cluster", fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}},
			want: []string{"pod/recsys/rec-east-1", "pod/recsys/rec-west-1"}, eastCalls: []string{"targets s"}, westCalls: []string{"targets s"}},
		{name: "a cutover asks the surviving cluster first, then the lost one for its region",
			fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west"}},
			want:  []string{"pod/recsys/rec-east-1"}, eastCalls: []string{"targets s"}, westCalls: []string{"can take over"}},
		{name: "a region that is no cluster is refused", fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "north"}},
			wantErr: `region "north" is not the region of a cluster in target.clusters [east west]`},
		{name: "a cutover to a region that is no cluster is refused", fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "north"}},
			wantErr: `region "north" is not the region of a cluster`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl, east, west := newFleet()
			got, err := fl.Targets(t.Context(), fault("s", tt.fault))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, tg := range got {
				names = append(names, tg.String())
			}
			require.Equal(t, tt.want, names)
			require.Equal(t, tt.eastCalls, east.calls)
			require.Equal(t, tt.westCalls, west.calls)
		})
	}
}

func TestACutoverNeedsASurvivorThatCanTakeOver(t *testing.T) {
	fl, east, west := newFleet()
	west.takeOver = errors.New("the cluster of region west has no schedulable node to take over")
	_, err := fl.Targets(t.Context(), fault("cutover", &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west"}}))
	require.ErrorContains(t, err, "the cluster of region west has no schedulable node to take over")
	require.Empty(t, east.calls, "the lost cluster is not asked")
}

func TestInjectAndRevertActInTheTargetsCluster(t *testing.T) {
	fl, east, west := newFleet()
	f := fault("cutover", &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west"}})
	region := evidence.Target{Kind: evidence.KindRegion, Name: "east", Region: "east"}
	require.NoError(t, fl.Inject(t.Context(), f, region))
	require.NoError(t, fl.Revert(t.Context(), f, region))
	require.Equal(t, []string{"inject cutover region/east", "revert cutover region/east"}, east.calls)
	require.Empty(t, west.calls, "the surviving cluster is not touched")
	err := fl.Inject(t.Context(), f, evidence.Target{Kind: evidence.KindRegion, Name: "east", Region: "north"})
	require.ErrorContains(t, err, `target region/east: region "north" is not the region of a cluster`)
}

func TestRecoverActsInTheClustersTheFaultTouched(t *testing.T) {
	fl, east, west := newFleet()
	cutover := fault("cutover", &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west"}})
	require.NoError(t, fl.Recover(t.Context(), cutover, nil), "a journal that lost its targets: the lost cluster's marks are enough")
	require.Equal(t, []string{"recover cutover "}, east.calls)
	require.Empty(t, west.calls)

	kill := fault("kill", &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}})
	require.NoError(t, fl.Recover(t.Context(), kill, []evidence.Target{{Kind: evidence.KindPod, Name: "recsys/rec-west-1", Region: "west"}}))
	require.Equal(t, []string{"recover cutover ", "recover kill "}, east.calls, "a fault naming no region is recovered everywhere")
	require.Equal(t, []string{"recover kill pod/recsys/rec-west-1"}, west.calls, "each cluster gets its own journaled targets")

	err := fl.Recover(t.Context(), cutover, []evidence.Target{{Kind: evidence.KindNode, Name: "n", Region: "north"}})
	require.ErrorContains(t, err, `journaled targets name region "north", which is no cluster of target.clusters`)
}

func TestStartForwardsEventsPrefixedWithTheRegion(t *testing.T) {
	fl, east, west := newFleet()
	var got []evidence.Event
	info, err := fl.Start(t.Context(), evidence.RecorderFunc(func(ev evidence.Event) { got = append(got, ev) }))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"east.cluster": "https://east", "west.cluster": "https://west"}, info.Details)
	east.rec.Record(evidence.Event{Type: evidence.EventTrafficSwitched, Fault: "cutover", Message: "traffic switched east→west by the switch action in 3ms"})
	west.rec.Record(evidence.Event{Type: evidence.EventNote, Fault: "kill", Message: "pod recsys/p is waiting for a GPU: ..."})
	west.rec.Record(evidence.Event{Type: evidence.EventReplaced, Fault: "kill"})
	require.Equal(t, []evidence.Event{
		{Type: evidence.EventTrafficSwitched, Fault: "cutover", Message: "[east] traffic switched east→west by the switch action in 3ms"},
		{Type: evidence.EventNote, Fault: "kill", Message: "[west] pod recsys/p is waiting for a GPU: ..."},
		{Type: evidence.EventReplaced, Fault: "kill"},
	}, got)
	require.NoError(t, fl.Stop(t.Context()))

	fl, east, west = newFleet()
	west.startErr = errors.New("connection refused")
	_, err = fl.Start(t.Context(), nil)
	require.ErrorContains(t, err, "cluster of region west: connection refused")
	require.Equal(t, []string{"start", "stop"}, east.calls, "a cluster started before the failure is stopped")
}

func TestCapacityMergesClusters(t *testing.T) {
	fl, east, west := newFleet()
	_, err := fl.Capacity(t.Context())
	require.ErrorIs(t, err, errNotStarted)
	east.points = []evidence.CapacityPoint{{Workload: "east/Deployment/recsys/recommender-east", Desired: 2}}
	east.missing = []string{"Deployment/recsys/recommender-west", "Deployment/recsys/nowhere"}
	west.points = []evidence.CapacityPoint{{Workload: "west/Deployment/recsys/recommender-west", Desired: 2, Ready: 2}}
	west.missing = []string{"Deployment/recsys/recommender-east", "Deployment/recsys/nowhere"}
	_, err = fl.Start(t.Context(), nil)
	require.NoError(t, err)
	points, err := fl.Capacity(t.Context())
	require.EqualError(t, err, "capacity: Deployment/recsys/nowhere not found in any cluster",
		"a workload that lives in one cluster only is no error; one in none is")
	require.Equal(t, append(east.points, west.points...), points)

	spec := &v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "north"}}}}}
	err = fl.Preflight(t.Context(), spec)
	require.ErrorContains(t, err, `step kill: region "north" is not the region of a cluster`)
	require.ErrorContains(t, err, "system.workloads: Deployment/recsys/nowhere not found in any cluster", "every problem at once")
	spec.Steps[0].Fault.PodKill.Region = "east"
	require.EqualError(t, fl.Preflight(t.Context(), spec), "system.workloads: Deployment/recsys/nowhere not found in any cluster")
	west.preflight = errors.New("step kill: namespace billing is not in safety.namespaces [recsys]")
	require.EqualError(t, fl.Preflight(t.Context(), spec), "cluster of region west: step kill: namespace billing is not in safety.namespaces [recsys]\n"+
		"system.workloads: Deployment/recsys/nowhere not found in any cluster")
}
