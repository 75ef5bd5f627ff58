package nodes

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// observer records what a drain reported.
type observer struct {
	effects int
	notes   []string
}

func (o *observer) TookEffect()     { o.effects++ }
func (o *observer) Note(msg string) { o.notes = append(o.notes, msg) }

func getNode(t *testing.T, c client.Client, name string) *corev1.Node {
	t.Helper()
	var n corev1.Node
	require.NoError(t, c.Get(t.Context(), client.ObjectKey{Name: name}, &n))
	return &n
}

func TestCordonAndUncordonKeepThePriorState(t *testing.T) {
	ctx := t.Context()
	m := marks.Mark{RunID: "r1", Fault: "drain"}
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Node("a", "east", "8", "32Gi", 1), fixtures.Node("b", "east", "8", "32Gi", 1, fixtures.Cordoned),
		fixtures.Node("c", "east", "8", "32Gi", 1, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r0", marks.AnnotationFault: "drain"})))

	require.NoError(t, Cordon(ctx, c, "a", nil, m))
	require.NoError(t, Cordon(ctx, c, "a", nil, m), "cordon is idempotent")
	require.NoError(t, Cordon(ctx, c, "b", nil, m))
	a, b := getNode(t, c, "a"), getNode(t, c, "b")
	require.True(t, a.Spec.Unschedulable)
	require.Equal(t, "false", a.Annotations[marks.AnnotationWasUnschedulable])
	require.Equal(t, "true", b.Annotations[marks.AnnotationWasUnschedulable])
	require.ErrorContains(t, Cordon(ctx, c, "c", nil, m), "node c is held by run r0 (step drain)")

	held, err := Marked(ctx, c, marks.Filter{RunID: "r1"})
	require.NoError(t, err)
	require.Equal(t, []marks.Object{
		{Target: evidence.Target{Kind: evidence.KindNode, Name: "a", Region: "east"}, RunID: "r1", Fault: "drain"},
		{Target: evidence.Target{Kind: evidence.KindNode, Name: "b", Region: "east"}, RunID: "r1", Fault: "drain"},
	}, held)

	require.NoError(t, Uncordon(ctx, c, "a", nil, m))
	require.NoError(t, Uncordon(ctx, c, "b", nil, m))
	require.NoError(t, Uncordon(ctx, c, "c", nil, m), "another run's node is left alone")
	require.NoError(t, Uncordon(ctx, c, "gone", nil, m), "a node that is gone is fine")
	a, b = getNode(t, c, "a"), getNode(t, c, "b")
	require.False(t, a.Spec.Unschedulable)
	require.True(t, b.Spec.Unschedulable, "a node cordoned before the drill stays cordoned")
	require.NotContains(t, a.Annotations, marks.AnnotationRunID)
	require.NotContains(t, b.Annotations, marks.AnnotationRunID)
	require.Equal(t, "r0", getNode(t, c, "c").Annotations[marks.AnnotationRunID], "another run's marks stay")
}

func TestCandidatesSkipNodesSomeoneElseCordoned(t *testing.T) {
	c := fixtures.Client(t, interceptor.Funcs{},
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2, fixtures.Cordoned),
		fixtures.Node("east-cpu", "east", "8", "32Gi", 0), fixtures.Node("west-1", "west", "8", "32Gi", 2))
	got, err := Candidates(t.Context(), c, objects.NodeFilter{Region: "east", GPUOnly: true}, marks.Mark{RunID: "r1", Fault: "drain"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "east-1", got[0].Name)
	require.Equal(t, "east", got[0].Region)
}

func TestARefusedDrainTouchesNothing(t *testing.T) {
	ctx := t.Context()
	pinnedElsewhere := fixtures.Pod("billing", "b-1", "a", "1", "1Gi", 0, fixtures.Owned)
	rec := fixtures.Pod("recsys", "rec-1", "a", "1", "1Gi", 1, fixtures.Owned)
	bare := fixtures.Pod("recsys", "bare", "a", "100m", "1Gi", 0)
	tests := []struct {
		name    string
		pods    []corev1.Pod
		wantErr string
	}{
		{name: "pods outside safety.namespaces", pods: []corev1.Pod{pinnedElsewhere}, wantErr: "runs pods outside safety.namespaces [recsys]: billing/b-1"},
		{name: "pods no controller owns", pods: []corev1.Pod{bare}, wantErr: "pods no controller owns would be lost for good"},
		{name: "a GPU pod with no GPU left elsewhere", pods: []corev1.Pod{rec}, wantErr: "refusing to drain: insufficient capacity (onInsufficientCapacity: refuse)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{fixtures.Node("a", "east", "8", "32Gi", 1), fixtures.Node("b", "east", "8", "32Gi", 0)}
			for i := range tt.pods {
				objs = append(objs, &tt.pods[i])
			}
			patched := false
			c := fixtures.Client(t, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				patched = true
				return errors.New("no patch expected")
			}}, objs...)
			d := Drainer{Client: c, Clientset: fake.NewClientset(), Allowed: []string{"recsys"}, Clock: clocktesting.NewFakePassiveClock(fixtures.Epoch)}
			var obs observer
			err := d.Drain(ctx, "a", marks.Mark{RunID: "r1", Fault: "drain"}, Settings{}, &obs)
			require.ErrorContains(t, err, tt.wantErr)
			require.False(t, patched, "nothing is cordoned")
			require.Zero(t, obs.effects)
		})
	}
}
