package v1alpha1

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSelectCountOf(t *testing.T) {
	tests := []struct {
		name string
		sel  Selection
		n    int
		want int
	}{
		{name: "one picks one", sel: Selection{Mode: SelectOne}, n: 5, want: 1},
		{name: "one of nothing is nothing", sel: Selection{Mode: SelectOne}, n: 0, want: 0},
		{name: "count is capped by the candidates", sel: Selection{Mode: SelectCount, Value: ptr.To[int32](9)}, n: 4, want: 4},
		{name: "percent rounds up", sel: Selection{Mode: SelectPercent, Value: ptr.To[int32](33)}, n: 4, want: 2},
		{name: "a third of three is one", sel: Selection{Mode: SelectPercent, Value: ptr.To[int32](33)}, n: 3, want: 1},
		{name: "all is all", sel: Selection{Mode: SelectAll}, n: 7, want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, SelectCountOf(tt.sel, tt.n))
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      Percent
		want    float64
		wantErr bool
	}{
		{in: "99.9", want: 99.9}, {in: "0", want: 0}, {in: "100", want: 100},
		{in: "100.1", wantErr: true}, {in: "-1", wantErr: true}, {in: "high", wantErr: true}, {in: "NaN", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.InDelta(t, tt.want, got, 1e-9)
	}
}

func TestKubernetesFaultDefaults(t *testing.T) {
	kube := Target{Platform: PlatformKubernetes, Namespace: "recsys"}
	cases := []struct {
		name   string
		target Target
		fault  Fault
		check  func(t *testing.T, f *Fault)
	}{{
		name:   "unavailable store is scaled to zero",
		target: kube,
		fault:  Fault{ModelStoreOutage: &ModelStoreOutage{}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Equal(t, OutageUnavailable, f.ModelStoreOutage.Mode)
			require.Equal(t, OutageScaleToZero, f.ModelStoreOutage.Method)
		},
	}, {
		name:   "slow store goes through chaos mesh",
		target: kube,
		fault:  Fault{ModelStoreOutage: &ModelStoreOutage{Mode: OutageSlow}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Equal(t, OutageChaosMesh, f.ModelStoreOutage.Method)
			require.Equal(t, DefaultSlowLatency, f.ModelStoreOutage.Latency.Duration)
		},
	}, {
		name:   "hung store goes through chaos mesh",
		target: kube,
		fault:  Fault{ModelStoreOutage: &ModelStoreOutage{Mode: OutageHang}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Equal(t, OutageChaosMesh, f.ModelStoreOutage.Method)
		},
	}, {
		name:   "no method off kubernetes",
		target: Target{Platform: PlatformLocal},
		fault:  Fault{ModelStoreOutage: &ModelStoreOutage{}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Empty(t, f.ModelStoreOutage.Method)
		},
	}, {
		name:   "a GPU failure fails every GPU of one node, taints it NoExecute with the default key and kills at once",
		target: kube,
		fault:  Fault{GPUFailure: &GPUFailure{}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			g := f.GPUFailure
			require.Equal(t, SelectOne, g.Mode)
			require.Nil(t, g.GPUs, "unset means every GPU of the node")
			require.Equal(t, DefaultGPUTaintKey, g.TaintKey)
			require.Equal(t, CapacityRefuse, g.OnInsufficientCapacity)
			require.Zero(t, g.GracePeriod.Duration)
		},
	}, {
		name:   "a GPU failure in the sandbox has no taint",
		target: Target{Platform: PlatformLocal},
		fault:  Fault{GPUFailure: &GPUFailure{}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Empty(t, f.GPUFailure.TaintKey)
			require.Equal(t, CapacityRefuse, f.GPUFailure.OnInsufficientCapacity)
		},
	}, {
		name:   "service switch in the target namespace on the region key",
		target: kube,
		fault: Fault{RegionCutover: &RegionCutover{From: "a", To: "b", Traffic: TrafficManual,
			Switch: &CutoverSwitch{Service: &ServiceSwitch{Name: "recommender"}}}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			sw := f.RegionCutover.Switch
			require.Equal(t, "recsys", sw.Service.Namespace)
			require.Equal(t, DefaultSelectorKey, sw.Service.SelectorKey)
			require.Nil(t, sw.Timeout, "an action timeout means nothing to a service switch")
		},
	}, {
		name:   "route switch in the target namespace",
		target: kube,
		fault: Fault{RegionCutover: &RegionCutover{From: "a", To: "b", Traffic: TrafficManual,
			Switch: &CutoverSwitch{HTTPRoute: &HTTPRouteSwitch{Name: "recs", Backends: []RegionBackend{{Region: "a", Service: "ra"}, {Region: "b", Service: "rb"}}}}}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Equal(t, "recsys", f.RegionCutover.Switch.HTTPRoute.Namespace)
		},
	}, {
		name:   "command switch gets the action timeout",
		target: kube,
		fault: Fault{RegionCutover: &RegionCutover{From: "a", To: "b", Traffic: TrafficManual,
			Switch: &CutoverSwitch{Action: Action{Command: []string{"./switch"}}}}},
		check: func(t *testing.T, f *Fault) {
			t.Helper()
			require.Equal(t, DefaultActionTimeout, f.RegionCutover.Switch.Timeout.Duration)
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: DrillPlanSpec{
				Target: tc.target,
				System: System{Endpoint: "http://recs:8080", ModelStore: &ModelStoreRef{Workload: &WorkloadRef{Name: "store"}}},
				Load:   Load{Requests: []RequestTemplate{{Name: "r", Path: "/"}}},
				Steps:  []Step{{Name: "s", Fault: tc.fault.DeepCopy()}},
			}}
			SetDefaults_DrillPlan(p)
			tc.check(t, p.Spec.Steps[0].Fault)
			once := p.DeepCopy()
			SetDefaults_DrillPlan(p)
			require.Equal(t, once, p, "defaulting is idempotent")
		})
	}
}
