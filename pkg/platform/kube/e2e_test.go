//go:build e2e

package kube_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// TestMain gives controller-runtime a logger, as drill's main does, so that
// it does not complain on stderr.
func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// TestKubePlatform runs every scenario against one real control plane.
// Each scenario has its own namespace and its own regions, so their nodes
// and pods never meet.
func TestKubePlatform(t *testing.T) {
	ctx := t.Context()
	s := &suite{ctx: ctx, c: framework.Start(ctx, t, framework.Options{PodStartDelay: 2 * time.Second})}
	t.Run("a pod kill loses capacity and the platform sees it come back", s.podKill)
	t.Run("a node drain evicts through the Eviction API within the PDB and revert uncordons", s.nodeDrain)
	t.Run("a drain the other nodes cannot absorb is refused before anything is touched", s.drainRefused)
	t.Run("a drain with onInsufficientCapacity warn proceeds and notes pods waiting for a GPU", s.drainWarned)
	t.Run("a scaleToZero cutover switches traffic and fails back", s.cutoverScaleToZero)
	t.Run("a drain cutover takes its whole region down at once and brings it back at once", s.cutoverDrain)
	t.Run("a partial GPU failure drops allocatable, deletes the pod that no longer fits and the scheduler keeps its replacement Pending until revert", s.gpuPartial)
	t.Run("a full GPU failure taints the node NoExecute, its pods move and revert restores the node", s.gpuFull)
	t.Run("a model store outage scales the store to zero, restarts replicas and restores", s.storeOutage)
	t.Run("a node a dead run cordoned is restored by Recover from its annotations", s.crashSafety)
	t.Run("a chaosMesh fault without Chaos Mesh installed fails clearly", s.chaosMissing)
	t.Run("preflight names every problem of a plan before anything is touched", s.preflight)
	t.Run("a region a dead run took down is restored from its marks with its traffic", s.regionRecovered)
}

// suite is the shared control plane of the scenarios.
type suite struct {
	ctx context.Context //nolint:containedctx // the test's context, shared by its subtests
	c   *framework.Cluster
}

// scenario sets up a namespace, GPU nodes and recommender deployments.
type scenario struct {
	ns      string
	regions map[string]scenarioRegion
}

type scenarioRegion struct {
	nodes, gpusPerNode int
	replicas           int32
}

func (s scenario) setUp(ctx context.Context, t *testing.T, c *framework.Cluster) {
	t.Helper()
	c.CreateNamespace(ctx, t, s.ns)
	for region, r := range s.regions {
		specs := make([]framework.NodeSpec, r.nodes)
		for i := range specs {
			specs[i] = framework.NodeSpec{Region: region, Zone: region + "-a", GPUs: r.gpusPerNode}
		}
		c.AddNodes(ctx, t, specs...)
	}
	for region, r := range s.regions {
		if r.replicas > 0 {
			c.DeployRecommender(ctx, t, s.ns, region, r.replicas)
		}
	}
	for region, r := range s.regions {
		if r.replicas > 0 {
			c.WaitReady(ctx, t, s.ns, framework.RecommenderName(region))
		}
	}
}

func (s scenario) spec(workloads ...string) *v1alpha1.DrillPlanSpec {
	spec := &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: s.ns}}
	for _, w := range workloads {
		spec.System.Workloads = append(spec.System.Workloads, v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Name: w})
	}
	return spec
}

// events records a platform's events.
type events struct {
	mu  sync.Mutex
	all []evidence.Event
}

// Record implements evidence.Recorder.
func (e *events) Record(ev evidence.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// of returns the events of a type and fault.
func (e *events) of(typ evidence.EventType, fault string) []evidence.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []evidence.Event
	for _, ev := range e.all {
		if ev.Type == typ && ev.Fault == fault {
			out = append(out, ev)
		}
	}
	return out
}

// notes returns the messages of a fault's notes.
func (e *events) notes(fault string) []string {
	var out []string
	for _, ev := range e.of(evidence.EventNote, fault) {
		out = append(out, ev.Message)
	}
	return out
}

// since returns the events of a type and fault at or after t.
func (e *events) since(typ evidence.EventType, fault string, t time.Time) []evidence.Event {
	var out []evidence.Event
	for _, ev := range e.of(typ, fault) {
		if !ev.At.Before(t) {
			out = append(out, ev)
		}
	}
	return out
}

func newPlatform(ctx context.Context, t *testing.T, c *framework.Cluster, spec *v1alpha1.DrillPlanSpec, start bool) (*kube.Platform, *events) {
	t.Helper()
	p, err := kube.New(kube.Options{Spec: spec, RESTConfig: c.Config, PollInterval: 200 * time.Millisecond, ChaosTimeout: 5 * time.Second})
	require.NoError(t, err)
	ev := &events{}
	if start {
		require.NoError(t, p.Preflight(ctx, spec), "the scenario's plan fits the cluster")
		_, err := p.Start(ctx, ev)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, p.Stop(context.Background())) })
	}
	return p, ev
}

func eventually(ctx context.Context, t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, cond)
	require.NoError(t, err, "waiting for %s", what)
}

func capacityOf(ctx context.Context, t *testing.T, p *kube.Platform, workload string) evidence.CapacityPoint {
	t.Helper()
	points, err := p.Capacity(ctx)
	require.NoError(t, err)
	for _, pt := range points {
		if pt.Workload == workload {
			return pt
		}
	}
	t.Fatalf("no capacity point for %s in %v", workload, points)
	return evidence.CapacityPoint{}
}

func (s *suite) podKill(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "pk", regions: map[string]scenarioRegion{"pk-east": {nodes: 2, gpusPerNode: 2, replicas: 3}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-pk-east"), true)
	f := platform.Fault{ID: "kill-gpu-pods", RunID: "e2e-pk", Spec: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "recommender"}}, GPUOnly: true,
	}}}
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 3)
	w := "Deployment/pk/recommender-pk-east"
	pt := capacityOf(ctx, t, p, w)
	require.Equal(t, evidence.CapacityPoint{At: pt.At, Workload: w, Desired: 3, Ready: 3}, pt)

	injected := time.Now()
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	require.NoError(t, p.Inject(ctx, f, targets[0]), "inject is idempotent")
	var lost, back time.Time
	eventually(ctx, t, time.Minute, "capacity to drop and come back", func(ctx context.Context) (bool, error) {
		pt := capacityOf(ctx, t, p, w)
		if pt.Ready < pt.Desired && lost.IsZero() {
			lost = pt.At
		}
		if !lost.IsZero() && pt.Ready == pt.Desired {
			back = pt.At
			return true, nil
		}
		return false, nil
	})
	replaced := ev.of(evidence.EventReplaced, f.ID)
	require.Len(t, replaced, 1, "the replacement pod was seen, once")
	require.False(t, replaced[0].At.Before(injected.Add(-time.Second)))
	effect := ev.of(evidence.EventTookEffect, f.ID)
	require.Len(t, effect, 1, "the kill took effect once")
	require.Equal(t, targets[0].Name, effect[0].Target.Name)
	require.False(t, effect[0].At.Before(injected))
	t.Logf("capacity lost after %s, back after %s, replacement seen after %s",
		lost.Sub(injected), back.Sub(injected), replaced[0].At.Sub(injected))
	require.GreaterOrEqual(t, back.Sub(injected), 2*time.Second, "kwok's 2s start delay is part of the capacity RTO")
	require.NoError(t, p.Revert(ctx, f, targets[0]))
}

// nodeWithMostPods is the node of the namespace running most of its pods.
func nodeWithMostPods(ctx context.Context, t *testing.T, c *framework.Cluster, ns string) (string, int) {
	t.Helper()
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	count := map[string]int{}
	best, n := "", 0
	for _, p := range pods.Items {
		count[p.Spec.NodeName]++
		if count[p.Spec.NodeName] > n || (count[p.Spec.NodeName] == n && p.Spec.NodeName < best) {
			best, n = p.Spec.NodeName, count[p.Spec.NodeName]
		}
	}
	return best, n
}

func podsOn(ctx context.Context, t *testing.T, c *framework.Cluster, ns, nodeName string) int {
	t.Helper()
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	n := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName == nodeName && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

func getNode(ctx context.Context, t *testing.T, c *framework.Cluster, name string) *corev1.Node {
	t.Helper()
	n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return n
}

func drainFault(runID, region string, policy v1alpha1.CapacityPolicy) platform.Fault {
	return platform.Fault{ID: "drain-gpu-node", RunID: runID, Spec: &v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{
		Region: region, GPUOnly: true, OnInsufficientCapacity: policy, Timeout: &metav1.Duration{Duration: 90 * time.Second},
	}}}
}

func (s *suite) nodeDrain(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "nd", regions: map[string]scenarioRegion{"nd-east": {nodes: 3, gpusPerNode: 2, replicas: 4}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-nd-east"), true)
	f := drainFault("e2e-nd", "nd-east", v1alpha1.CapacityRefuse)
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 3)
	victim, n := nodeWithMostPods(ctx, t, c, "nd")
	require.Equal(t, 2, n, "4 pods on 3 nodes of 2 GPUs: one node runs two")

	start := time.Now()
	require.NoError(t, p.Inject(ctx, f, evidence.Target{Kind: evidence.KindNode, Name: victim}))
	t.Logf("drained %s (two pods under a maxUnavailable=1 budget) in %s", victim, time.Since(start))
	node := getNode(ctx, t, c, victim)
	require.True(t, node.Spec.Unschedulable)
	require.Equal(t, "e2e-nd", node.Annotations[kube.AnnotationRunID])
	require.Equal(t, "drain-gpu-node", node.Annotations[kube.AnnotationFault])
	require.Equal(t, "false", node.Annotations[kube.AnnotationWasUnschedulable])
	require.Zero(t, podsOn(ctx, t, c, "nd", victim))
	c.WaitReady(ctx, t, "nd", "recommender-nd-east")
	require.NoError(t, p.Inject(ctx, f, evidence.Target{Kind: evidence.KindNode, Name: victim}), "inject is idempotent")
	effect := ev.of(evidence.EventTookEffect, f.ID)
	require.Len(t, effect, 1, "the first accepted eviction, once")
	require.False(t, effect[0].At.Before(start))

	require.NoError(t, p.Revert(ctx, f, evidence.Target{Kind: evidence.KindNode, Name: victim}))
	node = getNode(ctx, t, c, victim)
	require.False(t, node.Spec.Unschedulable)
	require.NotContains(t, node.Annotations, kube.AnnotationRunID)
	require.NotContains(t, node.Annotations, kube.AnnotationWasUnschedulable)
	require.NoError(t, p.Revert(ctx, f, evidence.Target{Kind: evidence.KindNode, Name: victim}), "revert is idempotent")
	require.Equal(t, []string{"node " + victim + " drained through the Eviction API"}, trimDurations(ev.notes(f.ID)))
	require.Len(t, ev.of(evidence.EventReplaced, f.ID), 1, "two pods evicted and replaced: one replacement event, after the inject")
}

// trimDurations drops the trailing " in <duration>" of notes.
func trimDurations(notes []string) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		if j := strings.LastIndex(n, " in "); j > 0 {
			n = n[:j]
		}
		out[i] = n
	}
	return out
}

func (s *suite) drainRefused(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "dr", regions: map[string]scenarioRegion{"dr-east": {nodes: 2, gpusPerNode: 1, replicas: 2}}}
	sc.setUp(ctx, t, c)
	p, _ := newPlatform(ctx, t, c, sc.spec("recommender-dr-east"), false)
	f := drainFault("e2e-dr", "dr-east", v1alpha1.CapacityRefuse)
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	err = p.Inject(ctx, f, targets[0])
	require.ErrorContains(t, err, "insufficient capacity")
	require.ErrorContains(t, err, "the 1 remaining schedulable nodes that admit them have")
	require.ErrorContains(t, err, "nvidia.com/gpu 0 free")
	require.ErrorContains(t, err, "fit on no remaining node")
	t.Logf("refusal: %v", err)
	node := getNode(ctx, t, c, targets[0].Name)
	require.False(t, node.Spec.Unschedulable, "a refused drain touches nothing")
	require.NotContains(t, node.Annotations, kube.AnnotationRunID)
	require.Equal(t, 1, podsOn(ctx, t, c, "dr", targets[0].Name))
}

func (s *suite) drainWarned(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "dw", regions: map[string]scenarioRegion{"dw-east": {nodes: 2, gpusPerNode: 1, replicas: 2}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-dw-east"), true)
	f := drainFault("e2e-dw", "dw-east", v1alpha1.CapacityWarn)
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	eventually(ctx, t, 30*time.Second, "a note about a pod waiting for a GPU", func(context.Context) (bool, error) {
		return strings.Contains(strings.Join(ev.notes(f.ID), "\n"), "is waiting for a GPU"), nil
	})
	notes := strings.Join(ev.notes(f.ID), "\n")
	require.Contains(t, notes, "despite insufficient capacity")
	require.Contains(t, notes, "Insufficient nvidia.com/gpu")
	require.NoError(t, p.Revert(ctx, f, targets[0]))
	c.WaitReady(ctx, t, "dw", "recommender-dw-east")
	eventually(ctx, t, 30*time.Second, "a note saying how long the pod waited for a GPU", func(context.Context) (bool, error) {
		return strings.Contains(strings.Join(ev.notes(f.ID), "\n"), "waited for a GPU for "), nil
	})
	t.Logf("notes:\n%s", strings.Join(ev.notes(f.ID), "\n"))
}

func (s *suite) storeOutage(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "ms", regions: map[string]scenarioRegion{"ms-east": {nodes: 2, gpusPerNode: 2, replicas: 2}}}
	sc.setUp(ctx, t, c)
	c.DeployModelStore(ctx, t, "ms")
	c.WaitReady(ctx, t, "ms", framework.ModelStoreName)
	spec := sc.spec("recommender-ms-east")
	spec.System.ModelStore = &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: framework.ModelStoreName}}
	p, ev := newPlatform(ctx, t, c, spec, true)
	f := platform.Fault{ID: "lose-store", RunID: "e2e-ms", Spec: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{RestartReplicas: 1}}}
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	before, err := c.Clientset.CoreV1().Pods("ms").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "recommender"}.String()})
	require.NoError(t, err)

	require.NoError(t, p.Inject(ctx, f, targets[0]))
	require.NoError(t, p.Inject(ctx, f, targets[0]), "inject is idempotent: no second restart")
	store, err := c.Clientset.AppsV1().Deployments("ms").Get(ctx, framework.ModelStoreName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *store.Spec.Replicas)
	require.Equal(t, "1", store.Annotations[kube.AnnotationReplicas])
	eventually(ctx, t, time.Minute, "exactly one recommender pod to be replaced", func(ctx context.Context) (bool, error) {
		after, err := c.Clientset.CoreV1().Pods("ms").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "recommender"}.String()})
		if err != nil {
			return false, err
		}
		old := 0
		for _, a := range after.Items {
			for _, b := range before.Items {
				if a.UID == b.UID && a.DeletionTimestamp == nil {
					old++
				}
			}
		}
		return old == 1, nil
	})
	require.Contains(t, strings.Join(ev.notes(f.ID), "\n"), "during the store outage")
	require.Len(t, ev.of(evidence.EventTookEffect, f.ID), 1)
	eventually(ctx, t, 30*time.Second, "the restarted pod's replacement", func(context.Context) (bool, error) {
		return len(ev.of(evidence.EventReplaced, f.ID)) == 1, nil
	})

	reverted := time.Now()
	require.NoError(t, p.Revert(ctx, f, targets[0]))
	c.WaitReady(ctx, t, "ms", framework.ModelStoreName)
	c.WaitReady(ctx, t, "ms", "recommender-ms-east")
	require.Len(t, ev.since(evidence.EventReplaced, f.ID, reverted), 0,
		"the store is no watched workload: its pod is no replacement capacity")
}

func (s *suite) crashSafety(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "cs", regions: map[string]scenarioRegion{"cs-east": {nodes: 3, gpusPerNode: 2, replicas: 2}}}
	sc.setUp(ctx, t, c)
	spec := sc.spec("recommender-cs-east")
	f := drainFault("e2e-dead-run", "cs-east", v1alpha1.CapacityRefuse)

	// A run drains a node and dies without reverting.
	dying, _ := newPlatform(ctx, t, c, spec, false)
	targets, err := dying.Targets(ctx, f)
	require.NoError(t, err)
	victim, _ := nodeWithMostPods(ctx, t, c, "cs")
	require.NoError(t, dying.Inject(ctx, f, evidence.Target{Kind: evidence.KindNode, Name: victim}))
	// It had also marked a node that an operator cordoned before the drill.
	var other string
	for _, tg := range targets {
		if tg.Name != victim {
			other = tg.Name
			break
		}
	}
	patch := `{"metadata":{"annotations":{"` + kube.AnnotationRunID + `":"e2e-dead-run","` + kube.AnnotationFault + `":"` + f.ID +
		`","` + kube.AnnotationWasUnschedulable + `":"true"}},"spec":{"unschedulable":true}}`
	_, err = c.Clientset.CoreV1().Nodes().Patch(ctx, other, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)

	// A later process finds the marks and restores the prior state.
	later, _ := newPlatform(ctx, t, c, spec, false)
	marked, err := later.Marked(ctx, "e2e-dead-run", "")
	require.NoError(t, err)
	require.Len(t, marked, 2)
	require.NoError(t, later.Recover(ctx, f, []evidence.Target{{Kind: evidence.KindNode, Name: victim}}))
	require.False(t, getNode(ctx, t, c, victim).Spec.Unschedulable)
	require.NotContains(t, getNode(ctx, t, c, victim).Annotations, kube.AnnotationRunID)
	require.True(t, getNode(ctx, t, c, other).Spec.Unschedulable, "a node cordoned before the drill stays cordoned")
	require.NotContains(t, getNode(ctx, t, c, other).Annotations, kube.AnnotationRunID)
	marked, err = later.Marked(ctx, "e2e-dead-run", "")
	require.NoError(t, err)
	require.Empty(t, marked)
}

func (s *suite) chaosMissing(t *testing.T) {
	ctx, c := s.ctx, s.c
	spec := &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Namespace: "default"}}
	p, _ := newPlatform(ctx, t, c, spec, false)
	f := platform.Fault{ID: "net", RunID: "e2e-cm", Spec: &v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "NetworkChaos"}}}
	spec.Steps = []v1alpha1.Step{{Name: f.ID, Fault: f.Spec}}
	require.ErrorIs(t, p.Preflight(ctx, spec), kube.ErrChaosMeshMissing, "preflight says so before the drill starts")
	_, err := p.Targets(ctx, f)
	require.ErrorIs(t, err, kube.ErrChaosMeshMissing)
	require.ErrorContains(t, err, "install Chaos Mesh")
	err = p.Inject(ctx, f, evidence.Target{Kind: evidence.KindChaos, Name: "NetworkChaos/default/x"})
	require.ErrorIs(t, err, kube.ErrChaosMeshMissing)
	require.NoError(t, p.Revert(ctx, f, evidence.Target{Kind: evidence.KindChaos, Name: "NetworkChaos/default/x"}), "nothing to delete")
}
