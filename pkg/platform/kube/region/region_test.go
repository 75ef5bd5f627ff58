package region

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// observer records what a cutover reported; it is called concurrently.
type observer struct {
	mu      sync.Mutex
	effects int
	notes   []string
}

func (o *observer) TookEffect() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.effects++
}

func (o *observer) Note(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notes = append(o.notes, msg)
}

func newCutover(c client.Client) Cutover {
	return Cutover{
		Client: c, Allowed: []string{"recsys"}, Namespaces: []string{"recsys"},
		Clock: clocktesting.NewFakePassiveClock(fixtures.Epoch), PollInterval: 10 * time.Millisecond, Timeout: 5 * time.Second,
	}
}

func drainRegion(from string) Region {
	return Region{Cutover: &v1alpha1.RegionCutover{From: from, To: "west", Method: v1alpha1.CutoverDrain}, Mark: marks.Mark{RunID: "r1", Fault: "cutover"}}
}

func cordoned(t *testing.T, c client.Client, name string) bool {
	t.Helper()
	var n corev1.Node
	require.NoError(t, c.Get(t.Context(), client.ObjectKey{Name: name}, &n))
	return n.Spec.Unschedulable
}

// TestTakeDownDeletes checks which pods a drain cutover deletes and how:
// one DeleteCollection per node and namespace, pod by pod beside a
// DaemonSet pod, never a collection outside safety.namespaces; and that
// it waits until they are gone.
func TestTakeDownDeletes(t *testing.T) {
	ctx := t.Context()
	finished := func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }
	pods := []corev1.Pod{
		fixtures.Pod("recsys", "a", "east-1", "1", "1Gi", 1, fixtures.Owned),
		fixtures.Pod("recsys", "b", "east-1", "1", "1Gi", 1, fixtures.Owned),
		fixtures.Pod("recsys", "c", "east-2", "1", "1Gi", 1, fixtures.Owned),
		fixtures.Pod("recsys", "agent", "east-2", "100m", "64Mi", 0, fixtures.DaemonSetPod),
		fixtures.Pod("kube-system", "done", "east-1", "100m", "64Mi", 0, finished),
		fixtures.Pod("kube-system", "proxy", "east-1", "100m", "64Mi", 0, fixtures.DaemonSetPod),
		fixtures.Pod("recsys", "w", "west-1", "1", "1Gi", 1, fixtures.Owned),
	}
	objs := []runtime.Object{fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2)}
	for i := range pods {
		pods[i].UID = types.UID(pods[i].Namespace + "-" + pods[i].Name) // the API server's job
		objs = append(objs, &pods[i])
	}
	var calls fixtures.Calls
	c := fixtures.Client(t, fixtures.PodsByNode(&calls), objs...)
	cut := newCutover(c)
	var st State
	var obs observer
	require.NoError(t, cut.TakeDown(ctx, drainRegion("east"), &st, &obs))

	require.Subset(t, calls.Lines(), []string{
		"deletecollection recsys spec.nodeName=east-1",
		"delete recsys/c", // beside the DaemonSet's pod on east-2
	})
	var deletes []string
	for _, l := range calls.Lines() {
		if l[:6] == "delete" {
			deletes = append(deletes, l)
		}
	}
	require.ElementsMatch(t, []string{"deletecollection recsys spec.nodeName=east-1", "delete recsys/c"}, deletes)
	require.Len(t, st.pods["east-1"], 2)
	require.Len(t, st.pods["east-2"], 1)
	require.True(t, st.down)
	require.True(t, cordoned(t, c, "east-1"))
	require.True(t, cordoned(t, c, "east-2"))
	require.False(t, cordoned(t, c, "west-1"))
	require.Equal(t, 3, obs.effects, "one effect per pod deleted")
	require.Contains(t, obs.notes, "cordoned the 2 nodes of region east before deleting their pods")
	require.Contains(t, obs.notes, "deleted the 3 pods on the 2 nodes of region east in 0s (disruption budgets do not hold a lost region)")
	var left corev1.PodList
	require.NoError(t, c.List(ctx, &left))
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	require.ElementsMatch(t, []string{"recsys/agent", "kube-system/done", "kube-system/proxy", "recsys/w"}, names)

	calls.Reset()
	require.NoError(t, cut.TakeDown(ctx, drainRegion("east"), &st, &obs))
	for _, l := range calls.Lines() {
		require.NotContains(t, l, "delete", "once per State")
	}
}

func TestTakeDownRefusesBeforeTouchingAnything(t *testing.T) {
	outside := fixtures.Pod("billing", "b", "east-1", "1", "1Gi", 0, fixtures.Owned)
	bare := fixtures.Pod("recsys", "bare", "east-1", "1", "1Gi", 0)
	tests := []struct {
		name    string
		pod     corev1.Pod
		wantErr string
	}{
		{name: "a pod outside safety.namespaces", pod: outside, wantErr: "refusing to cut over region east: its nodes run pods outside safety.namespaces [recsys]: billing/b"},
		{name: "a pod no controller owns", pod: bare, wantErr: "refusing to cut over region east: pods no controller owns would be lost for good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls fixtures.Calls
			funcs := fixtures.PodsByNode(&calls)
			funcs.Patch = func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				calls.Add("patch " + obj.GetName())
				return c.Patch(ctx, obj, p, opts...)
			}
			c := fixtures.Client(t, funcs, fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2), &tt.pod)
			var obs observer
			err := newCutover(c).TakeDown(t.Context(), drainRegion("east"), &State{}, &obs)
			require.ErrorContains(t, err, tt.wantErr)
			require.Empty(t, calls.Lines(), "no node cordoned, no pod deleted")
			require.Zero(t, obs.effects)
		})
	}
	c := fixtures.Client(t, interceptor.Funcs{}, fixtures.Node("west-1", "west", "8", "32Gi", 2))
	err := newCutover(c).TakeDown(t.Context(), drainRegion("east"), &State{}, &observer{})
	require.ErrorContains(t, err, "region east has no schedulable node")
}

// TestRestoreAfterAPartialFailure: Restore uncordons the whole region;
// when one uncordon fails, the next Restore brings back the rest.
func TestRestoreAfterAPartialFailure(t *testing.T) {
	ctx := t.Context()
	failed := false
	c := fixtures.Client(t, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
		if obj.GetName() == "east-3" && !failed && cordonedNow(ctx, c, "east-3") {
			failed = true
			return errors.New("the API server went away")
		}
		return c.Patch(ctx, obj, p, opts...)
	}}, fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2), fixtures.Node("east-3", "east", "8", "32Gi", 2),
		fixtures.Node("west-1", "west", "8", "32Gi", 2))
	cut := newCutover(c)
	r := drainRegion("east")
	var st State
	require.NoError(t, cut.TakeDown(ctx, r, &st, &observer{}))
	for _, n := range []string{"east-1", "east-2", "east-3"} {
		require.True(t, cordoned(t, c, n), "the whole region goes down at once: %s", n)
	}

	require.ErrorContains(t, cut.Restore(ctx, r, &st), "the API server went away")
	require.False(t, cordoned(t, c, "east-1"))
	require.True(t, cordoned(t, c, "east-3"))
	require.NoError(t, cut.Restore(ctx, r, &st))
	require.False(t, cordoned(t, c, "east-3"))
	require.NoError(t, cut.Restore(ctx, r, &st), "restore is idempotent")

	// A process that did not take the region down restores it from the marks.
	require.NoError(t, cut.TakeDown(ctx, r, &State{}, &observer{}))
	require.NoError(t, cut.Restore(ctx, r, &State{}))
	for _, n := range []string{"east-1", "east-2", "east-3"} {
		require.False(t, cordoned(t, c, n))
	}
}

func cordonedNow(ctx context.Context, c client.Reader, name string) bool {
	var n corev1.Node
	return c.Get(ctx, client.ObjectKey{Name: name}, &n) == nil && n.Spec.Unschedulable
}

func TestMembers(t *testing.T) {
	foreign := fixtures.Node("east-4", "east", "8", "32Gi", 2, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r0", marks.AnnotationFault: "drain"}), fixtures.Cordoned)
	ours := fixtures.Node("east-5", "east", "8", "32Gi", 2, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover"}), fixtures.Cordoned)
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2, fixtures.Cordoned), foreign, ours,
		fixtures.Node("west-1", "west", "8", "32Gi", 2), fixtures.Node("plain", "", "8", "32Gi", 2, fixtures.Unlabelled),
		fixtures.Deployment("recsys", "rec-east", 2, map[string]string{"region": "east"}), fixtures.Deployment("recsys", "rec-west", 2, map[string]string{"region": "west"}))
	cut := newCutover(c)

	got, err := cut.Members(t.Context(), drainRegion("east"))
	require.NoError(t, err)
	require.Equal(t, Members{Nodes: []string{"east-1", "east-5"}}, got, "not cordoned by someone else, or cordoned by this fault")

	fleet := drainRegion("east")
	fleet.Scope = objects.Scope{Cluster: "east"}
	got, err = cut.Members(t.Context(), fleet)
	require.NoError(t, err)
	require.Equal(t, Members{Nodes: []string{"east-1", "east-5", "plain"}}, got, "in a fleet the cluster's unlabelled nodes are its region's")

	s2z := drainRegion("east")
	s2z.Cutover.Method = v1alpha1.CutoverScaleToZero
	got, err = cut.Members(t.Context(), s2z)
	require.NoError(t, err)
	require.Equal(t, Members{Workloads: []string{"Deployment/recsys/rec-east"}}, got)
}

func TestScaleToZeroTakesEveryWorkloadDownAndRestoresThem(t *testing.T) {
	ctx := t.Context()
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Deployment("recsys", "a", 2, map[string]string{"region": "east"}), fixtures.Deployment("recsys", "b", 3, map[string]string{"region": "east"}),
		fixtures.Deployment("recsys", "w", 2, map[string]string{"region": "west"}))
	cut := newCutover(c)
	r := drainRegion("east")
	r.Cutover.Method = v1alpha1.CutoverScaleToZero
	var obs observer
	require.NoError(t, cut.TakeDown(ctx, r, &State{}, &obs))
	replicas := func(name string) int32 {
		var d appsv1.Deployment
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: name}, &d))
		return *d.Spec.Replicas
	}
	require.Equal(t, []int32{0, 0, 2}, []int32{replicas("a"), replicas("b"), replicas("w")})
	require.Equal(t, 2, obs.effects)
	require.NoError(t, cut.TakeDown(ctx, r, &State{}, &obs), "a repeated take-down finds the workloads it scaled")
	require.NoError(t, cut.Restore(ctx, r, &State{}))
	require.Equal(t, []int32{2, 3, 2}, []int32{replicas("a"), replicas("b"), replicas("w")})
	err := cut.TakeDown(ctx, Region{Cutover: &v1alpha1.RegionCutover{From: "north", Method: v1alpha1.CutoverScaleToZero}, Mark: r.Mark}, &State{}, &obs)
	require.ErrorContains(t, err, "region north has no Deployment or StatefulSet with replicas")
}
