package storeoutage

import (
	"context"
	"sync"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

// newOutage builds an Outage of spec over a fake client holding objs, on
// a cluster serving the Chaos Mesh kinds served. The fake client plays
// Chaos Mesh's part: a NetworkChaos is reported injected once created.
func newOutage(t *testing.T, spec *v1alpha1.DrillPlanSpec, served []string, objs ...runtime.Object) Outage {
	t.Helper()
	d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
	if len(served) > 0 {
		var res []metav1.APIResource
		for _, k := range served {
			res = append(res, metav1.APIResource{Kind: k})
		}
		d.Resources = []*metav1.APIResourceList{{GroupVersion: "chaos-mesh.org/v1alpha1", APIResources: res}}
	}
	c := fixtures.Client(t, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if nc, ok := obj.(*chaosv1alpha1.NetworkChaos); ok {
				nc.Status.Conditions = []chaosv1alpha1.ChaosCondition{{Type: chaosv1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}}
			}
			return c.Create(ctx, obj, opts...)
		},
	}, objs...)
	ns := spec.Target.Namespace
	if ns == "" {
		ns = "recsys"
	}
	return Outage{
		Client:  c,
		Chaos:   chaos.Client{Client: c, Discovery: d, Clock: clocktesting.NewFakePassiveClock(fixtures.Epoch), PollInterval: 10 * time.Millisecond, Timeout: time.Second},
		Allowed: []string{ns}, Namespace: ns, Namespaces: []string{ns},
		System: spec.System,
	}
}

// observer records what an outage reported.
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
