package watch

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	testclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// sink records what a watcher reported.
type sink struct {
	mu       sync.Mutex
	replaced []string
	observed []string
}

func (s *sink) Replaced(fault string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replaced = append(s.replaced, fault+" "+at.UTC().Format(time.TimeOnly))
}

func (s *sink) Observed(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observed = append(s.observed, msg)
}

// newWatcher is a watcher over a fake reader, without informers: tests
// feed it the objects the informers would.
func newWatcher(t *testing.T, clk *testclock.FakePassiveClock, objs ...runtime.Object) (*Watcher, *sink) {
	t.Helper()
	s := &sink{}
	w := &Watcher{
		opts: Options{Clock: clk, Sink: s, Workloads: []v1alpha1.WorkloadRef{
			{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "recommender"},
		}},
		reader: fixtures.Client(t, interceptor.Funcs{}, objs...),
		seen:   map[types.UID]seenPod{}, gpuWait: map[types.UID]*gpuWait{}, dark: map[string][]*interval{},
	}
	return w, s
}

func newPod(uid, app string, created time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "recsys", Name: uid, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created), Labels: map[string]string{"app": app},
	}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
}

func TestCapacityCountsRecordedReplicasAsDesired(t *testing.T) {
	scaled := fixtures.Deployment("recsys", "recommender-east", 0, map[string]string{"app": "recommender"})
	scaled.Annotations = map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "cutover", marks.AnnotationReplicas: "3"}
	healthy := fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender"})
	healthy.Status.ReadyReplicas = 2
	store := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "store"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1)}}
	c := fixtures.Client(t, interceptor.Funcs{}, scaled, healthy, store)
	refs := []v1alpha1.WorkloadRef{
		{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "recommender-east"},
		{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "recommender-west"},
		{Kind: v1alpha1.WorkloadStatefulSet, Namespace: "recsys", Name: "store"},
		{Kind: v1alpha1.WorkloadDeployment, Namespace: "recsys", Name: "missing"},
	}
	points, missing, err := CapacityOf(t.Context(), c, refs, "east/", fixtures.Epoch, nil)
	require.NoError(t, err)
	require.Equal(t, []evidence.CapacityPoint{
		{At: fixtures.Epoch, Workload: "east/Deployment/recsys/recommender-east", Desired: 3, Ready: 0},
		{At: fixtures.Epoch, Workload: "east/Deployment/recsys/recommender-west", Desired: 2, Ready: 2},
		{At: fixtures.Epoch, Workload: "east/StatefulSet/recsys/store", Desired: 1, Ready: 0},
	}, points)
	require.Equal(t, []string{"Deployment/recsys/missing"}, missing)
}

func TestExpectReportsTheFirstReplacementOnce(t *testing.T) {
	ctx := t.Context()
	clk := testclock.NewFakePassiveClock(fixtures.Epoch)
	w, s := newWatcher(t, clk, fixtures.Deployment("recsys", "recommender", 3, map[string]string{"app": "recommender"}))
	see := func(p *corev1.Pod) {
		t.Helper()
		_, err := w.seePod(p)
		require.NoError(t, err)
	}
	see(newPod("old", "recommender", fixtures.Epoch.Add(-time.Hour))) // listed at start

	w.Expect(ctx, "kill", fixtures.Epoch, "recsys", labels.SelectorFromSet(labels.Set{"app": "batch"}))
	require.Empty(t, s.replaced, "a pod from before the fault is no replacement")
	clk.SetTime(fixtures.Epoch.Add(time.Second))
	see(newPod("frontdoor", "frontdoor", clk.Now()))
	require.Empty(t, s.replaced, "a pod of no watched workload is no replacement")
	clk.SetTime(fixtures.Epoch.Add(2 * time.Second))
	see(newPod("batch-1", "batch", clk.Now()))
	require.Equal(t, []string{"kill 12:00:02"}, s.replaced, "the pod kill's own selector counts")
	clk.SetTime(fixtures.Epoch.Add(3 * time.Second))
	see(newPod("rec-1", "recommender", clk.Now()))
	require.Len(t, s.replaced, 1, "one replacement per Expect, not one per pod")

	// The fail-back waits again: a pod seen already after since counts at once.
	w.Expect(ctx, "kill", fixtures.Epoch.Add(2500*time.Millisecond), "", nil)
	require.Equal(t, []string{"kill 12:00:02", "kill 12:00:03"}, s.replaced)

	w.Expect(ctx, "drain", clk.Now().Add(time.Second), "", nil)
	clk.SetTime(fixtures.Epoch.Add(5 * time.Second))
	see(newPod("rec-1", "recommender", clk.Now())) // an update of a pod seen before
	require.Len(t, s.replaced, 2, "an update is not a new pod")
	see(newPod("rec-2", "recommender", clk.Now()))
	require.Equal(t, "drain 12:00:05", s.replaced[2])
}

func TestGPUWaitsAreObservedWhenTheyStartAndEnd(t *testing.T) {
	clk := testclock.NewFakePassiveClock(fixtures.Epoch)
	w, s := newWatcher(t, clk)
	waiting := newPod("p1", "recommender", fixtures.Epoch)
	waiting.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Message: "0/6 nodes are available: 6 Insufficient nvidia.com/gpu."}}
	w.observePending(waiting)
	w.observePending(waiting) // an update while it still waits
	require.Equal(t, []string{"pod recsys/p1 is waiting for a GPU: 0/6 nodes are available: 6 Insufficient nvidia.com/gpu."}, s.observed)
	require.Equal(t, s.observed, w.Open(), "a fault that starts now hears of the wait")

	clk.SetTime(fixtures.Epoch.Add(1500 * time.Millisecond))
	w.forgetPod(cache.DeletedFinalStateUnknown{Obj: waiting}) // it ran: it left the Pending selection
	require.Equal(t, "pod recsys/p1 waited for a GPU for 1.5s: 0/6 nodes are available: 6 Insufficient nvidia.com/gpu.", s.observed[1])
	require.Empty(t, w.Open())
}

func TestWaitsForGPU(t *testing.T) {
	pending := func(msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg,
		}}}}
	}
	msg, ok := waitsForGPU(pending("0/6 nodes are available: 6 Insufficient nvidia.com/gpu."))
	require.True(t, ok)
	require.Contains(t, msg, "Insufficient nvidia.com/gpu")
	_, ok = waitsForGPU(pending("0/6 nodes are available: 6 Insufficient cpu."))
	require.False(t, ok)
}

func TestDarkServicesAreObserved(t *testing.T) {
	clk := testclock.NewFakePassiveClock(fixtures.Epoch)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "recsys", Name: "frontdoor-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "frontdoor"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}},
	}
	w, s := newWatcher(t, clk, slice)
	w.observeSlice(t.Context(), slice)
	require.Equal(t, []string{"service recsys/frontdoor has had no ready endpoint since 2026-12-07T12:00:00Z"}, s.observed)
	require.Equal(t, s.observed, w.Open())

	clk.SetTime(fixtures.Epoch.Add(4 * time.Second))
	c := w.reader.(client.Client)
	require.NoError(t, c.Get(t.Context(), client.ObjectKeyFromObject(slice), slice))
	slice.Endpoints[0].Conditions.Ready = ptr.To(true)
	require.NoError(t, c.Update(t.Context(), slice))
	w.observeSlice(t.Context(), slice)
	require.Equal(t, "service recsys/frontdoor had no ready endpoint for 4s", s.observed[1])
	require.Empty(t, w.Open())
}
