package kube

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// toYAML renders objects as a multi-document YAML file for golden files.
func toYAML[T any](t *testing.T, objs ...T) []byte {
	t.Helper()
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		require.NoError(t, err)
		docs = append(docs, string(b))
	}
	return []byte("---\n" + strings.Join(docs, "---\n"))
}

func storeFault(o *v1alpha1.ModelStoreOutage) platform.Fault {
	return platform.Fault{ID: "store", RunID: "r1", Spec: &v1alpha1.Fault{ModelStoreOutage: o}}
}

func TestBuildStoreNetpols(t *testing.T) {
	recommender := func(ns, name string) selectedWorkload {
		return selectedWorkload{
			ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: ns, Name: name},
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "recommender", "region": strings.TrimPrefix(name, "recommender-")}},
		}
	}
	tests := []struct {
		name    string
		cut     storeCut
		golden  string
		wantErr string
	}{
		{
			name: "two inference workloads lose a store of their own namespace",
			cut: storeCut{
				inference: []selectedWorkload{recommender("recsys", "recommender-us-east"), recommender("recsys", "recommender-us-west")},
				store: selectedWorkload{
					ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
					selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "model-store"}},
				},
				storeIPs: []string{"127.42.0.9", "127.42.0.7"},
			},
			golden: "netpol-same-namespace.yaml",
		},
		{
			name: "a store in another namespace with label expressions and dual-stack IPs",
			cut: storeCut{
				inference: []selectedWorkload{recommender("recsys", "recommender-us-east")},
				store: selectedWorkload{
					ref: v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadStatefulSet, Namespace: "storage", Name: "models"},
					selector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"app": "models", "tier": "store"},
						MatchExpressions: []metav1.LabelSelectorRequirement{
							{Key: "shard", Operator: metav1.LabelSelectorOpExists},
						},
					},
				},
				storeIPs: []string{"10.0.3.4", "fd00::4", "not-an-ip"},
			},
			golden: "netpol-other-namespace.yaml",
		},
		{
			name: "without inference workloads there is nothing to cut off",
			cut: storeCut{store: selectedWorkload{
				ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
				selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "model-store"}},
			}},
			wantErr: "no inference workloads",
		},
		{
			name: "a store with an empty selector is refused: it would be every pod",
			cut: storeCut{
				inference: []selectedWorkload{recommender("recsys", "recommender-us-east")},
				store: selectedWorkload{
					ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
					selector: &metav1.LabelSelector{},
				},
			},
			wantErr: "Deployment/recsys/model-store: it is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nps, err := buildStoreNetpols(storeFault(&v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy}), tt.cut)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			golden.Assert(t, filepath.Join("testdata", tt.golden), toYAML(t, nps...))
		})
	}
}

func TestNegate(t *testing.T) {
	tests := []struct {
		name string
		in   metav1.LabelSelectorRequirement
		want metav1.LabelSelectorRequirement
	}{
		{name: "In becomes NotIn",
			in:   metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
			want: metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a", "b"}}},
		{name: "NotIn becomes In",
			in:   metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a"}},
			want: metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}}},
		{name: "Exists becomes DoesNotExist",
			in:   metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpExists},
			want: metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist}},
		{name: "DoesNotExist becomes Exists",
			in:   metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist},
			want: metav1.LabelSelectorRequirement{Key: "app", Operator: metav1.LabelSelectorOpExists}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := negate(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			back, err := negate(got)
			require.NoError(t, err)
			require.Equal(t, tt.in, back, "negating twice gives the requirement back")
		})
	}
	_, err := negate(metav1.LabelSelectorRequirement{Key: "app", Operator: "Gt"})
	require.ErrorContains(t, err, `unknown operator "Gt"`)
}

func TestShortName(t *testing.T) {
	require.Equal(t, "firedrill-r1-store-recommender-us-east", shortName("firedrill-r1-store-recommender-us-east", 63))
	long := shortName("firedrill-"+strings.Repeat("x", 60)+"-store-recommender-us-east", 63)
	other := shortName("firedrill-"+strings.Repeat("x", 60)+"-store-recommender-us-west", 63)
	require.Len(t, long, 63)
	require.NotEqual(t, long, other, "names cut to the limit stay distinct")
}

// netpolSpec is a plan with inference workloads in two regions and a
// model store.
func netpolSpec() *v1alpha1.DrillPlanSpec {
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{
			Workloads:  []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}, {Name: "recommender-spread"}},
			ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}},
		},
	}
}

func netpolObjects() []runtime.Object {
	east := deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"})
	east.Spec.Template.Spec.NodeSelector = map[string]string{LabelRegion: "east"}
	west := deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"})
	west.Spec.Template.Spec.NodeSelector = map[string]string{LabelRegion: "west"}
	spread := deployment("recsys", "recommender-spread", 2, map[string]string{"app": "spread"})
	storePod := pod("recsys", "model-store-1", "east-1", "1", "1Gi", 0, labelled("app", "model-store"))
	storePod.Status.PodIP = "127.42.0.5"
	storePod.Status.PodIPs = []corev1.PodIP{{IP: "127.42.0.5"}}
	east1 := pod("recsys", "east-1-pod", "east-1", "1", "1Gi", 1, labelled("region", "east"))
	spreadEast := pod("recsys", "spread-1", "east-1", "1", "1Gi", 1, labelled("app", "spread"))
	spreadWest := pod("recsys", "spread-2", "west-1", "1", "1Gi", 1, labelled("app", "spread"))
	return []runtime.Object{
		node("east-1", "east", "8", "32Gi", 2), node("west-1", "west", "8", "32Gi", 2),
		east, west, spread, deployment("recsys", "model-store", 1, map[string]string{"app": "model-store"}),
		&storePod, &east1, &spreadEast, &spreadWest,
	}
}

func TestStoreCut(t *testing.T) {
	tests := []struct {
		name    string
		region  string
		spread  bool
		want    []string
		wantErr string
	}{
		{name: "without a region every inference workload loses the store",
			spread: true, want: []string{"recommender-east", "recommender-west", "recommender-spread"}},
		{name: "a region keeps the workloads pinned to that region",
			region: "west", want: []string{"recommender-west"}},
		{name: "a workload with pods in the region and elsewhere is refused",
			region: "east", spread: true, wantErr: "Deployment/recsys/recommender-spread runs pods in region east (spread-1) and elsewhere (spread-2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := netpolSpec()
			if !tt.spread {
				spec.System.Workloads = spec.System.Workloads[:2]
			}
			p, _ := newFake(t, spec, netpolObjects()...)
			f := storeFault(&v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy, Region: tt.region})
			cut, err := p.storeCut(context.Background(), f, v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, w := range cut.inference {
				names = append(names, w.ref.Name)
			}
			require.Equal(t, tt.want, names)
			require.Equal(t, []string{"127.42.0.5"}, cut.storeIPs)
		})
	}
}

func TestStoreOutageByNetworkPolicy(t *testing.T) {
	ctx := context.Background()
	spec := netpolSpec()
	spec.System.Workloads = spec.System.Workloads[:2]
	p, cs := newFake(t, spec, netpolObjects()...)
	f := storeFault(&v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Method: v1alpha1.OutageNetworkPolicy, RestartReplicas: 1})

	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	objs, err := p.StoreOutageObjects(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []string{"NetworkPolicy/recsys/firedrill-r1-store-recommender-east", "NetworkPolicy/recsys/firedrill-r1-store-recommender-west"}, objs,
		"a dry run names the policies it would create")
	list := func() []networkingv1.NetworkPolicy {
		l, err := cs.NetworkingV1().NetworkPolicies("recsys").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		return l.Items
	}
	require.Empty(t, list(), "a dry run touches nothing")

	require.NoError(t, p.Inject(ctx, f, targets[0]))
	require.NoError(t, p.Inject(ctx, f, targets[0]), "a repeated inject finds its own policies")
	nps := list()
	require.Len(t, nps, 2)
	for _, np := range nps {
		require.Equal(t, "r1", np.Labels[LabelRunID])
		require.Equal(t, "store", np.Annotations[AnnotationFault])
		require.Equal(t, "Deployment/recsys/model-store", np.Annotations[AnnotationStore])
	}
	d, err := cs.AppsV1().Deployments("recsys").Get(ctx, "model-store", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(1), *d.Spec.Replicas, "the store itself is left running")
	_, err = cs.CoreV1().Pods("recsys").Get(ctx, "east-1-pod", metav1.GetOptions{})
	require.Error(t, err, "restartReplicas deleted an inference pod")

	marked, err := p.Marked(ctx, "r1", "store")
	require.NoError(t, err)
	require.Len(t, marked, 2, "Marked finds the policies")

	require.NoError(t, p.Revert(ctx, f, targets[0]))
	require.Empty(t, list(), "revert deletes the policies")
	require.NoError(t, p.Revert(ctx, f, targets[0]), "a repeated revert is a no-op")
}

func TestRecoverAllDeletesNetworkPoliciesOfDeadRuns(t *testing.T) {
	ctx := context.Background()
	spec := netpolSpec()
	spec.System.Workloads = spec.System.Workloads[:1]
	p, cs := newFake(t, spec, netpolObjects()...)
	dead := storeFault(&v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy})
	live := dead
	live.RunID = "r2"
	store := platform.Target{Kind: KindStore, Name: "Deployment/recsys/model-store"}
	require.NoError(t, p.Inject(ctx, dead, store))
	require.NoError(t, p.Inject(ctx, live, store))
	l, err := cs.NetworkingV1().NetworkPolicies("recsys").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l.Items, 2)

	found, err := p.RecoverAll(ctx, func(run string) bool { return run == "r1" })
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{
		Target: platform.Target{Kind: KindNetworkPolicy, Name: "recsys/firedrill-r1-store-recommender-east"}, RunID: "r1", Fault: "store",
	}}, found)
	l, err = cs.NetworkingV1().NetworkPolicies("recsys").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l.Items, 1)
	require.Equal(t, "r2", l.Items[0].Annotations[AnnotationRunID], "a live run's policy is left alone")
}
