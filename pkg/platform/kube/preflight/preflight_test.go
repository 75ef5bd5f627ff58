package preflight

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/storeoutage"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
)

func newChecker(t *testing.T, scope objects.Scope, system v1alpha1.System, objs ...runtime.Object) Checker {
	t.Helper()
	c := fixtures.Client(t, interceptor.Funcs{}, objs...)
	d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	d.Resources = []*metav1.APIResourceList{{GroupVersion: "chaos-mesh.org/v1alpha1", APIResources: []metav1.APIResource{{Kind: "PodChaos"}}}}
	clk := clocktesting.NewFakePassiveClock(fixtures.Epoch)
	allowed := []string{"recsys"}
	return Checker{
		Client: c, Discovery: d, Namespace: "recsys", Allowed: allowed, Scope: scope,
		Switcher: traffic.Switcher{Client: c, Clock: clk, Namespace: "recsys", Allowed: allowed},
		Outage: storeoutage.Outage{Client: c, Chaos: chaos.Client{Client: c, Discovery: d, Clock: clk}, Allowed: allowed, Namespace: "recsys",
			Namespaces: allowed, System: system, Scope: scope},
		Cutover: region.Cutover{Client: c, Allowed: allowed, Namespaces: allowed, Clock: clk, PollInterval: time.Second, Timeout: time.Minute},
	}
}

func TestStep(t *testing.T) {
	store := v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}}}
	objs := []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Node("north-1", "north", "8", "32Gi", 2, fixtures.Cordoned),
		fixtures.Deployment("recsys", "rec-east", 2, map[string]string{"region": "east"}),
		fixtures.Deployment("recsys", "model-store", 1, map[string]string{"app": "model-store"}),
		fixtures.Service("recsys", "frontdoor", map[string]string{"region": "east"}, nil),
	}
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Nope"}}}
	manual := func(sw *v1alpha1.CutoverSwitch) *v1alpha1.Fault {
		return &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Traffic: v1alpha1.TrafficManual, Switch: sw}}
	}
	tests := []struct {
		name    string
		system  v1alpha1.System
		scope   objects.Scope
		fault   *v1alpha1.Fault
		wantErr []string
	}{
		{name: "a wait step has nothing to check"},
		{name: "an exec fault is the engine's", fault: &v1alpha1.Fault{Exec: &v1alpha1.ExecFault{}}},
		{name: "a pod kill in an allowed namespace fits", fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}},
		{name: "a pod kill outside safety.namespaces and with a broken selector says both",
			fault:   &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Namespace: "billing", Selector: bad}},
			wantErr: []string{"step s: namespace billing is not in safety.namespaces [recsys]", "step s: invalid selector"}},
		{name: "a node drain with a broken selector", fault: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Selector: bad}}, wantErr: []string{"invalid selector"}},
		{name: "a drain cutover between regions with nodes fits", fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west"}}},
		{name: "a cutover from a region without nodes to a region without a schedulable one says both",
			fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "south", To: "north"}},
			wantErr: []string{"region north has no schedulable node (label topology.kubernetes.io/region) to take over",
				"region south has no schedulable node (label topology.kubernetes.io/region) to take down"}},
		{name: "a scaleToZero cutover of a region without workloads",
			fault:   &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "west", To: "east", Method: v1alpha1.CutoverScaleToZero}},
			wantErr: []string{"region west has no Deployment or StatefulSet with replicas in [recsys] to scale to zero"}},
		{name: "a cutover to itself", fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "east"}}, wantErr: []string{"from east to itself"}},
		{name: "a manual cutover without a switch", fault: manual(nil), wantErr: []string{"needs a switch action"}},
		{name: "a manual cutover whose Service is missing", fault: manual(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "nope"}}),
			wantErr: []string{`getting traffic switch Service recsys/nope: services "nope" not found`}},
		{name: "a manual cutover by Service fits", fault: manual(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}})},
		{name: "a store outage without a store", fault: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}},
			wantErr: []string{"needs system.modelStore.workload"}},
		{name: "a store outage of a store that does not exist",
			system: v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "gone"}}},
			fault:  &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}, wantErr: []string{"system.modelStore.workload Deployment/recsys/gone does not exist"}},
		{name: "a slow store needs Chaos Mesh's NetworkChaos", system: store,
			fault: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow}}, wantErr: []string{"chaos mesh is not installed"}},
		{name: "a store outage that fits", system: store, fault: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}},
		{name: "a Chaos Mesh kind the cluster does not serve", fault: &v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "NetworkChaos"}},
			wantErr: []string{"serves chaos-mesh.org/v1alpha1 but not the kind NetworkChaos"}},
		{name: "in a fleet, a fault naming another cluster's region is that cluster's", scope: objects.Scope{Cluster: "west"},
			fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "east", Namespace: "billing"}}},
		{name: "in a fleet, the surviving cluster checks it can take over", scope: objects.Scope{Cluster: "north"},
			fault:   &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "north"}},
			wantErr: []string{"the cluster of region north has no schedulable node to take over"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, tt.scope, tt.system, objs...)
			err := c.Step(t.Context(), v1alpha1.Step{Name: "s", Fault: tt.fault})
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	require.NoError(t, Missing(nil, ""))
	require.EqualError(t, Missing([]string{"Deployment/recsys/a", "StatefulSet/recsys/b"}, " in any cluster"),
		"system.workloads: Deployment/recsys/a, StatefulSet/recsys/b not found in any cluster")
}
