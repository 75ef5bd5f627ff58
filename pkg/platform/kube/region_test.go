package kube

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// TestRegionRestoreFailsBackAfterAPartialFailure: the first revert of a
// drain cutover uncordons the whole region; when one uncordon fails, the
// next revert restores the rest and the traffic still fails back once.
func TestRegionRestoreFailsBackAfterAPartialFailure(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverDrain)
	objs := []runtime.Object{
		node("east-1", "east", "8", "32Gi", 2), node("east-2", "east", "8", "32Gi", 2), node("east-3", "east", "8", "32Gi", 2),
		node("west-1", "west", "8", "32Gi", 2),
		service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil),
	}
	p, cs := newSwitchFake(t, spec, objs)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	selector := func() string {
		s, err := cs.CoreV1().Services("recsys").Get(ctx, "frontdoor", metav1.GetOptions{})
		require.NoError(t, err)
		return s.Spec.Selector["region"]
	}
	cordoned := func(name string) bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		return n.Spec.Unschedulable
	}

	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 3)
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	for _, n := range []string{"east-1", "east-2", "east-3"} {
		require.True(t, cordoned(n), "the first target cordons the whole region: %s", n)
	}
	require.NoError(t, p.Inject(ctx, f, targets[1]))
	require.NoError(t, p.Inject(ctx, f, targets[2]))
	require.Equal(t, "west", selector())

	failed := false
	cs.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "east-3" && !failed {
			failed = true
			return true, nil, errors.New("the API server went away")
		}
		return false, nil, nil
	})
	require.ErrorContains(t, p.Revert(ctx, f, targets[0]), "the API server went away")
	require.False(t, cordoned("east-1"))
	require.True(t, cordoned("east-3"))
	require.Equal(t, "west", selector(), "no fail-back while a node of the region is still down")

	require.NoError(t, p.Revert(ctx, f, targets[1]))
	require.False(t, cordoned("east-3"))
	require.Equal(t, "east", selector(), "the region is back: traffic fails back")
	require.NoError(t, p.Revert(ctx, f, targets[2]))
	require.Equal(t, "east", selector())
	marked, err := p.Marked(ctx, "r1", "cutover")
	require.NoError(t, err)
	require.Empty(t, marked)
}

// TestTakeRegionDownDeletes checks which pods a drain cutover deletes and
// how: one DeleteCollection per node and namespace, pod by pod beside a
// DaemonSet pod, never a collection outside safety.namespaces.
func TestTakeRegionDownDeletes(t *testing.T) {
	ctx := context.Background()
	owned := func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", Controller: ptr.To(true)}}
	}
	finished := func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }
	pods := []corev1.Pod{
		pod("recsys", "a", "east-1", "1", "1Gi", 1, owned),
		pod("recsys", "b", "east-1", "1", "1Gi", 1, owned),
		pod("recsys", "c", "east-2", "1", "1Gi", 1, owned),
		pod("recsys", "agent", "east-2", "100m", "64Mi", 0, daemonSetPod),
		pod("kube-system", "done", "east-1", "100m", "64Mi", 0, finished),
		pod("kube-system", "proxy", "east-1", "100m", "64Mi", 0, daemonSetPod),
	}
	objs := []runtime.Object{node("east-1", "east", "8", "32Gi", 2), node("east-2", "east", "8", "32Gi", 2), node("west-1", "west", "8", "32Gi", 2)}
	for i := range pods {
		pods[i].UID = types.UID(pods[i].Namespace + "-" + pods[i].Name) // the API server's job
		objs = append(objs, &pods[i])
	}
	spec := cutoverSpec(nil, v1alpha1.CutoverDrain)
	spec.Steps[0].Fault.RegionCutover.Traffic = v1alpha1.TrafficAuto
	p, _ := newSwitchFake(t, spec, objs)
	meta := p.meta.(*metadatafake.FakeMetadataClient)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	grace := &metav1.Duration{}
	require.NoError(t, p.takeRegionDown(ctx, f, cutoverScope{}, drainSettings{grace: grace}))

	var calls []string
	for _, a := range meta.Actions() {
		switch a := a.(type) {
		case k8stesting.DeleteCollectionAction:
			calls = append(calls, "deletecollection "+a.GetNamespace()+" "+a.GetListRestrictions().Fields.String())
		case k8stesting.DeleteAction:
			calls = append(calls, "delete "+a.GetNamespace()+"/"+a.GetName())
		}
	}
	require.ElementsMatch(t, []string{
		"deletecollection recsys spec.nodeName=east-1",
		"delete recsys/c", // beside the DaemonSet's pod on east-2
	}, calls)
	st := p.state("cutover")
	require.Len(t, st.regionPods["east-1"], 2)
	require.Len(t, st.regionPods["east-2"], 1)
	require.True(t, st.regionDown)
	require.NoError(t, p.takeRegionDown(ctx, f, cutoverScope{}, drainSettings{grace: grace}))
	require.Len(t, meta.Actions(), len(calls), "once per fault")
}
