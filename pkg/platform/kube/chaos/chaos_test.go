package chaos

import (
	"context"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// serving is a discovery client that serves the given Chaos Mesh kinds.
func serving(kinds ...string) Discovery {
	d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	if len(kinds) > 0 {
		var res []metav1.APIResource
		for _, k := range kinds {
			res = append(res, metav1.APIResource{Kind: k})
		}
		d.Resources = []*metav1.APIResourceList{{GroupVersion: "chaos-mesh.org/v1alpha1", APIResources: res}}
	}
	return d
}

func TestCheck(t *testing.T) {
	d := serving("PodChaos")
	require.NoError(t, Check(d, "PodChaos"))
	require.ErrorIs(t, Check(d, "StressChaos"), ErrMissing)
	require.ErrorContains(t, Check(d, "StressChaos"), "serves chaos-mesh.org/v1alpha1 but not the kind StressChaos")
	require.ErrorIs(t, Check(d, "TimeChaos"), platform.ErrUnsupported)
	err := Check(serving(), "PodChaos")
	require.ErrorIs(t, err, ErrMissing)
	require.ErrorContains(t, err, "install Chaos Mesh")
}

func TestBuildFromThePlan(t *testing.T) {
	cm := &v1alpha1.ChaosMeshFault{
		Kind: "PodChaos",
		Spec: runtime.RawExtension{Raw: []byte(`{"action":"pod-kill","mode":"one","selector":{"labelSelectors":{"app":"recommender"}}}`)},
	}
	m := marks.Mark{RunID: "20261202T0900Z-abc", Fault: "kill-one"}
	obj, err := Build(cm, objects.ObjectName(m.RunID, m.Fault), "recsys", m)
	require.NoError(t, err)
	require.Equal(t, "firedrill-20261202t0900z-abc-kill-one", obj.GetName())
	require.Equal(t, "recsys", obj.GetNamespace())
	require.Equal(t, "20261202T0900Z-abc", obj.GetLabels()[marks.LabelRunID])
	require.Equal(t, chaosv1alpha1.PodKillAction, obj.(*chaosv1alpha1.PodChaos).Spec.Action)

	cm.Spec.Raw = []byte(`{"action":"pod-kill","mdoe":"one"}`)
	_, err = Build(cm, "x", "recsys", m)
	require.ErrorContains(t, err, `unknown field "mdoe"`)
}

type notes []string

func (n *notes) Note(msg string) { *n = append(*n, msg) }

// TestApplyWaitsForInjectedAndDeleteForGone plays Chaos Mesh's part in an
// interceptor: the object is reported injected once created.
func TestApplyWaitsForInjectedAndDeleteForGone(t *testing.T) {
	ctx := t.Context()
	c := fixtures.Client(t, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if pc, ok := obj.(*chaosv1alpha1.PodChaos); ok {
				pc.Status.Conditions = []chaosv1alpha1.ChaosCondition{{Type: chaosv1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
			}
			return c.Create(ctx, obj, opts...)
		},
	})
	cl := Client{Client: c, Discovery: serving("PodChaos"), Clock: clocktesting.NewFakePassiveClock(fixtures.Epoch), PollInterval: 10 * time.Millisecond, Timeout: time.Second}
	m := marks.Mark{RunID: "r1", Fault: "kill"}
	build := func() Object {
		obj, err := Build(&v1alpha1.ChaosMeshFault{Kind: "PodChaos", Spec: runtime.RawExtension{Raw: []byte(`{"action":"pod-kill","mode":"one"}`)}}, "firedrill-r1-kill", "recsys", m)
		require.NoError(t, err)
		return obj
	}
	var n notes
	require.NoError(t, cl.Apply(ctx, build(), "PodChaos/recsys/firedrill-r1-kill", m, &n))
	require.NoError(t, cl.Apply(ctx, build(), "PodChaos/recsys/firedrill-r1-kill", m, &n), "a repeated apply finds its own object")
	require.Equal(t, "PodChaos/recsys/firedrill-r1-kill reported AllInjected 0s after it was created", n[0])

	held, err := cl.Marked(ctx, []string{"recsys"}, marks.Filter{RunID: "r1"})
	require.NoError(t, err)
	require.Equal(t, []marks.Object{{Target: evidence.Target{Kind: evidence.KindChaos, Name: "PodChaos/recsys/firedrill-r1-kill"}, RunID: "r1", Fault: "kill"}}, held)

	other := marks.Mark{RunID: "r2", Fault: "kill"}
	require.ErrorContains(t, cl.Apply(ctx, build(), "PodChaos/recsys/firedrill-r1-kill", other, &n), `was not created by run r2 step kill (it carries run "r1" step "kill")`)

	require.NoError(t, cl.Delete(ctx, "PodChaos/recsys/firedrill-r1-kill"))
	err = c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "firedrill-r1-kill"}, &chaosv1alpha1.PodChaos{})
	require.True(t, apierrors.IsNotFound(err))
	require.NoError(t, cl.Delete(ctx, "PodChaos/recsys/firedrill-r1-kill"), "deleting what is gone is fine")
	none := Client{Client: c, Discovery: serving(), Clock: cl.Clock}
	require.NoError(t, none.Delete(ctx, "NetworkChaos/recsys/x"), "without Chaos Mesh nothing can be left")
}

func TestApplyTimesOutWithTheConditions(t *testing.T) {
	c := fixtures.Client(t, interceptor.Funcs{})
	cl := Client{Client: c, Discovery: serving("PodChaos"), Clock: clocktesting.NewFakePassiveClock(fixtures.Epoch), PollInterval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond}
	m := marks.Mark{RunID: "r1", Fault: "kill"}
	obj, err := Build(&v1alpha1.ChaosMeshFault{Kind: "PodChaos"}, "firedrill-r1-kill", "recsys", m)
	require.NoError(t, err)
	var n notes
	err = cl.Apply(t.Context(), obj, "PodChaos/recsys/firedrill-r1-kill", m, &n)
	require.ErrorContains(t, err, "was not reported injected within 50ms (conditions none); is the Chaos Mesh controller running")
	require.Empty(t, n)
}
