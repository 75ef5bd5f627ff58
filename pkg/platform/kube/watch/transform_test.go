package watch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	testclock "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

func TestTransformsKeepWhatIsRead(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC))
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate}}
	fullMeta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: "p", Namespace: "recsys", UID: "u1", ResourceVersion: "7", CreationTimestamp: created,
			Labels: map[string]string{"app": "recommender"}, Annotations: map[string]string{"a": "b"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs"}}, ManagedFields: managed,
		}
	}
	unscheduled := &corev1.Pod{
		ObjectMeta: fullMeta(),
		Spec:       fixtures.Pod("recsys", "p", "", "1", "1Gi", 1).Spec,
		Status: corev1.PodStatus{Phase: corev1.PodPending, Message: "m", Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
		}}},
	}
	n := fixtures.Node("n", "east", "8", "32Gi", 2)
	n.ManagedFields = managed
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"registry:3"}, SizeBytes: 1 << 20}}

	tests := []struct {
		name      string
		transform func(any) (any, error)
		in        any
		want      any
	}{
		{
			name: "a pending pod keeps what seePod and the GPU wait read", transform: trimPendingPod,
			in: unscheduled,
			want: &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: "p", Namespace: "recsys", UID: "u1", ResourceVersion: "7", CreationTimestamp: created,
					Labels: map[string]string{"app": "recommender"},
				},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: unscheduled.Status.Conditions},
			},
		},
		{
			name: "a node loses managed fields and images only", transform: trimNode,
			in: n,
			want: func() *corev1.Node {
				w := fixtures.Node("n", "east", "8", "32Gi", 2)
				w.Status.Images = nil
				return w
			}(),
		},
		{
			name: "managed fields go from anything with metadata", transform: stripManagedFields,
			in:   &corev1.Pod{ObjectMeta: fullMeta()},
			want: func() *corev1.Pod { m := fullMeta(); m.ManagedFields = nil; return &corev1.Pod{ObjectMeta: m} }(),
		},
		{
			name: "a tombstone passes through", transform: trimPendingPod,
			in:   cache.DeletedFinalStateUnknown{Key: "recsys/p"},
			want: cache.DeletedFinalStateUnknown{Key: "recsys/p"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.transform(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := tt.transform(got)
			require.NoError(t, err)
			require.Equal(t, tt.want, again, "transforms are idempotent")
		})
	}
	msg, waiting := waitsForGPU(unscheduled)
	require.True(t, waiting, "the trimmed pod still reads as waiting for a GPU")
	require.Contains(t, msg, "Insufficient nvidia.com/gpu")
}

func TestSeePodRecordsWhenAPodFirstAppeared(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	clk := testclock.NewFakePassiveClock(now)
	w := &Watcher{opts: Options{Clock: clk, Sink: &sink{}}, seen: map[types.UID]seenPod{}}
	see := func(uid types.UID, created time.Time) {
		t.Helper()
		obj, err := w.seePod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Namespace: "recsys", Name: string(uid), UID: uid, CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{"app": "recommender"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}},
		}, Status: corev1.PodStatus{Phase: corev1.PodPending}})
		require.NoError(t, err)
		require.Nil(t, obj.(*corev1.Pod).ManagedFields, "the object is trimmed")
	}
	see("listed", now.Add(-time.Hour))
	see("new", now.Add(-time.Second))
	clk.SetTime(now.Add(5 * time.Second))
	see("new", now.Add(-time.Second)) // an update: the first sight stands
	require.Equal(t, now.Add(-time.Hour), w.seen["listed"].at, "a pod listed at start counts from its creation")
	require.Equal(t, now, w.seen["new"].at, "a new pod counts from when it was first seen")
	require.Equal(t, map[string]string{"app": "recommender"}, w.seen["new"].labels)

	obj, err := w.seePod(cache.DeletedFinalStateUnknown{Key: "recsys/gone"})
	require.NoError(t, err)
	require.Equal(t, cache.DeletedFinalStateUnknown{Key: "recsys/gone"}, obj)
	require.Len(t, w.seen, 2)
}
