package storeoutage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
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

// mark is the marks of the outages of these tests.
var mark = marks.Mark{RunID: "r1", Fault: "store"}

func TestBuildStoreNetpols(t *testing.T) {
	recommender := func(ns, name string) Selected {
		return Selected{
			Ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: ns, Name: name},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "recommender", "region": strings.TrimPrefix(name, "recommender-")}},
		}
	}
	tests := []struct {
		name    string
		cut     Cut
		golden  string
		wantErr string
	}{
		{
			name: "two inference workloads lose a store of their own namespace",
			cut: Cut{
				Inference: []Selected{recommender("recsys", "recommender-us-east"), recommender("recsys", "recommender-us-west")},
				Store: Selected{
					Ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "model-store"}},
				},
				StoreIPs: []string{"127.42.0.9", "127.42.0.7"},
			},
			golden: "netpol-same-namespace.yaml",
		},
		{
			name: "a store in another namespace with label expressions and dual-stack IPs",
			cut: Cut{
				Inference: []Selected{recommender("recsys", "recommender-us-east")},
				Store: Selected{
					Ref: v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadStatefulSet, Namespace: "storage", Name: "models"},
					Selector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"app": "models", "tier": "store"},
						MatchExpressions: []metav1.LabelSelectorRequirement{
							{Key: "shard", Operator: metav1.LabelSelectorOpExists},
						},
					},
				},
				StoreIPs: []string{"10.0.3.4", "fd00::4", "not-an-ip"},
			},
			golden: "netpol-other-namespace.yaml",
		},
		{
			name: "without inference workloads there is nothing to cut off",
			cut: Cut{Store: Selected{
				Ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "model-store"}},
			}},
			wantErr: "no inference workloads",
		},
		{
			name: "a store with an empty selector is refused: it would be every pod",
			cut: Cut{
				Inference: []Selected{recommender("recsys", "recommender-us-east")},
				Store: Selected{
					Ref:      v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"},
					Selector: &metav1.LabelSelector{},
				},
			},
			wantErr: "Deployment/recsys/model-store: it is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nps, err := BuildNetpols(mark, tt.cut)
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
	east := fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"})
	east.Spec.Template.Spec.NodeSelector = map[string]string{objects.LabelRegion: "east"}
	west := fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"})
	west.Spec.Template.Spec.NodeSelector = map[string]string{objects.LabelRegion: "west"}
	spread := fixtures.Deployment("recsys", "recommender-spread", 2, map[string]string{"app": "spread"})
	storePod := fixtures.Pod("recsys", "model-store-1", "east-1", "1", "1Gi", 0, fixtures.Labelled("app", "model-store"))
	storePod.Status.PodIP = "127.42.0.5"
	storePod.Status.PodIPs = []corev1.PodIP{{IP: "127.42.0.5"}}
	east1 := fixtures.Pod("recsys", "east-1-pod", "east-1", "1", "1Gi", 1, fixtures.Labelled("region", "east"))
	spreadEast := fixtures.Pod("recsys", "spread-1", "east-1", "1", "1Gi", 1, fixtures.Labelled("app", "spread"))
	spreadWest := fixtures.Pod("recsys", "spread-2", "west-1", "1", "1Gi", 1, fixtures.Labelled("app", "spread"))
	return []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2),
		east, west, spread, fixtures.Deployment("recsys", "model-store", 1, map[string]string{"app": "model-store"}),
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
			o := newOutage(t, spec, nil, netpolObjects()...)
			cut, err := o.cut(context.Background(), tt.region, v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "model-store"}, nil)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, w := range cut.Inference {
				names = append(names, w.Ref.Name)
			}
			require.Equal(t, tt.want, names)
			require.Equal(t, []string{"127.42.0.5"}, cut.StoreIPs)
		})
	}
}

func TestOutageByNetworkPolicy(t *testing.T) {
	ctx := t.Context()
	spec := netpolSpec()
	spec.System.Workloads = spec.System.Workloads[:2]
	o := newOutage(t, spec, nil, netpolObjects()...)
	out := &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Method: v1alpha1.OutageNetworkPolicy}
	store, err := o.StoreRef()
	require.NoError(t, err)

	objs, err := o.Objects(ctx, out, mark)
	require.NoError(t, err)
	require.Equal(t, []string{"NetworkPolicy/recsys/firedrill-r1-store-recommender-east", "NetworkPolicy/recsys/firedrill-r1-store-recommender-west"}, objs,
		"a dry run names the policies it would create")
	list := func() []networkingv1.NetworkPolicy {
		var l networkingv1.NetworkPolicyList
		require.NoError(t, o.Client.List(ctx, &l, client.InNamespace("recsys")))
		return l.Items
	}
	require.Empty(t, list(), "a dry run touches nothing")

	var obs observer
	require.NoError(t, o.Inject(ctx, out, store, mark, &obs))
	require.NoError(t, o.Inject(ctx, out, store, mark, &obs), "a repeated inject finds its own policies")
	nps := list()
	require.Len(t, nps, 2)
	for _, np := range nps {
		require.Equal(t, "r1", np.Labels[marks.LabelRunID])
		require.Equal(t, "store", np.Annotations[marks.AnnotationFault])
		require.Equal(t, "Deployment/recsys/model-store", np.Annotations[marks.AnnotationStore])
	}
	require.Equal(t, 2, obs.effects, "each policy created took effect; the repeated inject created none")
	require.Contains(t, obs.notes[0], "deny egress to Deployment/recsys/model-store (enforced only by a network plugin that implements NetworkPolicy)")
	var d appsv1.Deployment
	require.NoError(t, o.Client.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "model-store"}, &d))
	require.Equal(t, int32(1), *d.Spec.Replicas, "the store itself is left running")

	held, err := o.Marked(ctx, marks.Filter{RunID: "r1", FaultID: "store"})
	require.NoError(t, err)
	require.Len(t, held, 2, "Marked finds the policies")

	require.NoError(t, o.Revert(ctx, out, store, mark))
	require.Empty(t, list(), "revert deletes the policies")
	require.NoError(t, o.Revert(ctx, out, store, mark), "a repeated revert is a no-op")
}

func TestInferencePods(t *testing.T) {
	spec := netpolSpec()
	o := newOutage(t, spec, nil, netpolObjects()...)
	got, err := o.InferencePods(t.Context(), "east")
	require.NoError(t, err)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"east-1-pod", "spread-1"}, names, "the running pods of the inference workloads in the region, by name")
}

func TestAPolicyOfTheSameNameIsNotAdopted(t *testing.T) {
	spec := netpolSpec()
	spec.System.Workloads = spec.System.Workloads[:1]
	squatter := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "firedrill-r1-store-recommender-east"}}
	o := newOutage(t, spec, nil, append(netpolObjects(), squatter)...)
	store, err := o.StoreRef()
	require.NoError(t, err)
	var obs observer
	err = o.Inject(t.Context(), &v1alpha1.ModelStoreOutage{Method: v1alpha1.OutageNetworkPolicy}, store, mark, &obs)
	require.ErrorContains(t, err, "NetworkPolicy/recsys/firedrill-r1-store-recommender-east exists but was not created by run r1 step store")
	require.Zero(t, obs.effects)
}
