package pods

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

func TestCandidates(t *testing.T) {
	gpu := fixtures.Pod("recsys", "gpu-1", "east-1", "1", "1Gi", 1)
	cpu := fixtures.Pod("recsys", "cpu-1", "east-1", "1", "1Gi", 0, fixtures.Labelled("app", "frontdoor"))
	west := fixtures.Pod("recsys", "gpu-2", "west-1", "1", "1Gi", 1)
	other := fixtures.Pod("billing", "b-1", "east-1", "1", "1Gi", 1)
	c := fixtures.Client(t, interceptor.Funcs{}, fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2),
		&gpu, &cpu, &west, &other)
	got, err := Candidates(t.Context(), c, "recsys", objects.PodFilter{
		Selector: labels.SelectorFromSet(labels.Set{"app": "recommender"}), GPUOnly: true, Region: "east",
	})
	require.NoError(t, err)
	require.Equal(t, []evidence.Target{{Kind: evidence.KindPod, Name: "recsys/gpu-1", Region: "east", Labels: map[string]string{"app": "recommender"}}}, got)
}

func TestKillIsIdempotent(t *testing.T) {
	ctx := t.Context()
	p := fixtures.Pod("recsys", "rec-0", "east-1", "1", "1Gi", 1)
	p.UID = "uid-1"
	deletes := 0
	c := fixtures.Client(t, interceptor.Funcs{Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
		deletes++
		return c.Delete(ctx, obj, opts...)
	}}, &p)

	first, err := Kill(ctx, c, "recsys/rec-0", &metav1.Duration{}, nil)
	require.NoError(t, err)
	require.Equal(t, Killed{UID: "uid-1", Deleted: true}, first)

	// A StatefulSet recreates the pod under the same name: the fault
	// killed that name already, so the replacement lives.
	replacement := fixtures.Pod("recsys", "rec-0", "east-1", "1", "1Gi", 1)
	replacement.UID = "uid-2"
	require.NoError(t, c.Create(ctx, &replacement))
	again, err := Kill(ctx, c, "recsys/rec-0", &metav1.Duration{}, &first)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, 1, deletes, "the replacement was not deleted")
	var live corev1.Pod
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "rec-0"}, &live))
	require.Equal(t, types.UID("uid-2"), live.UID)

	require.NoError(t, c.Delete(ctx, &live))
	gone, err := Kill(ctx, c, "recsys/rec-0", nil, nil)
	require.NoError(t, err, "a pod that is gone counts as killed")
	require.Equal(t, Killed{}, gone)
	_, err = Kill(ctx, c, "rec-0", nil, nil)
	require.ErrorContains(t, err, "is not namespace/name")
	require.False(t, apierrors.IsNotFound(err))
}
