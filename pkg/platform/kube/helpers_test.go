package kube

import (
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

// fakeCluster is a platform over fake clients: a controller-runtime fake
// for reads and writes and client-go's fake clientset for discovery and
// evictions. They model objects and merge patches, not eviction,
// scheduling or informers.
type fakeCluster struct {
	p      *Platform
	c      client.WithWatch
	cs     *fake.Clientset
	events *recorder
}

// newFake builds a platform of spec over fake clients holding objs; funcs
// intercept the controller-runtime client's calls (field selectors on pods
// are honoured as the API server does, fixtures.PodsByNode).
func newFake(t *testing.T, spec *v1alpha1.DrillPlanSpec, funcs interceptor.Funcs, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	return newFakeIn(t, spec, "", funcs, objs...)
}

// newFakeIn is newFake for the cluster of region cluster in a fleet.
func newFakeIn(t *testing.T, spec *v1alpha1.DrillPlanSpec, cluster string, funcs interceptor.Funcs, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	byNode := fixtures.PodsByNode(nil)
	if funcs.DeleteAllOf == nil {
		funcs.DeleteAllOf = byNode.DeleteAllOf
	}
	if funcs.List == nil {
		funcs.List = byNode.List
	}
	c := fixtures.Client(t, funcs, objs...)
	cs := fake.NewClientset()
	rec := &recorder{}
	p := newPlatform(Options{Spec: spec, PollInterval: 10 * time.Millisecond, ChaosTimeout: time.Second, clusterRegion: cluster}, c, cs, cs.Discovery())
	p.log.SetRecorder(rec)
	return &fakeCluster{p: p, c: c, cs: cs, events: rec}
}

// serveChaosMesh makes the fake cluster serve Chaos Mesh's kinds.
func (fc *fakeCluster) serveChaosMesh(kinds ...string) {
	var res []metav1.APIResource
	for _, k := range kinds {
		res = append(res, metav1.APIResource{Kind: k})
	}
	fc.cs.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{GroupVersion: "chaos-mesh.org/v1alpha1", APIResources: res}}
}

// recorder records a platform's events.
type recorder struct {
	mu     sync.Mutex
	events []evidence.Event
}

// Record implements evidence.Recorder.
func (r *recorder) Record(ev evidence.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// of returns the events of a type and fault, with the instant cleared.
func (r *recorder) of(typ evidence.EventType, fault string) []evidence.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []evidence.Event
	for _, ev := range r.events {
		if ev.Type == typ && ev.Fault == fault {
			ev.At = time.Time{}
			out = append(out, ev)
		}
	}
	return out
}

// messages returns the messages of a type and fault.
func (r *recorder) messages(typ evidence.EventType, fault string) []string {
	var out []string
	for _, ev := range r.of(typ, fault) {
		out = append(out, ev.Message)
	}
	return out
}
