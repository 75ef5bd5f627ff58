package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/platform"
)

// regionWorkers bounds the requests a region cutover has in flight; the
// client's rate limiter (--kube-qps, --kube-burst) bounds their rate.
const regionWorkers = 16

// takeRegionDown does a drain cutover's work for its whole lost region,
// once per fault, at the first node target: one capacity preflight, every
// node of the region cordoned, then every pod on them deleted at once, as
// a region that is lost loses them all together. The node targets then
// only wait for their pods to be gone (awaitRegionNode).
//
// Pods are deleted, not evicted: pods pinned to a lost region cannot be
// replaced, so disruption budgets would only hold the drain until its
// timeout. DaemonSet and mirror pods are left, as kubectl's drain leaves
// them; pods no controller owns stop the cutover before anything changes.
func (p *Platform) takeRegionDown(ctx context.Context, f platform.Fault, scope cutoverScope, ds drainSettings) error {
	st, done := p.stateAnd(f.ID, func(s *faultState) bool { return s.regionDown })
	if done {
		return nil
	}
	rc := f.Spec.RegionCutover
	m := mark{RunID: f.RunID, Fault: f.ID}
	// The region's nodes are the cutover's targets (cutoverCandidates):
	// a node someone else cordoned is left as it is, pods and all.
	in, err := p.clusterState(ctx, func(n *corev1.Node) bool {
		return scope.nodeRegion(n) == rc.From && ownershipOf(n.Annotations, m) != foreign && (nodeFilter{}).matches(n, m)
	}, ds.movable)
	if err != nil {
		return err
	}
	pf := CheckDrain(in)
	if len(pf.Outside) > 0 {
		return fmt.Errorf("refusing to cut over region %s: its nodes run pods outside safety.namespaces %v: %s",
			rc.From, p.allowed, strings.Join(pf.Outside, ", "))
	}
	if len(pf.Unmanaged) > 0 {
		return fmt.Errorf("refusing to cut over region %s: %s", rc.From, unmanagedRefusal(pf.Unmanaged))
	}
	if !pf.Sufficient() {
		p.note(f.ID, "region %s cut over without room for its pods elsewhere: %s", rc.From, pf)
	} else if len(pf.Pinned) > 0 {
		p.note(f.ID, "%d pods are pinned to region %s and stay Pending until fail-back", len(pf.Pinned), rc.From)
	}

	// The pods go by node and namespace: one DeleteCollection each,
	// selected by spec.nodeName, so a region of a thousand pods costs a
	// hundred requests, not a thousand. A node that runs DaemonSet or
	// mirror pods in a namespace, which a drain leaves, has that
	// namespace's pods deleted one by one instead, each with its uid as a
	// precondition. Finished pods are left, as the preflight leaves them:
	// they hold nothing and may lie outside safety.namespaces, where no
	// collection may be deleted. A DeleteCollection also takes pods that
	// reached the node after the preflight: on a cordoned node only
	// DaemonSet pods can, and a lost region loses them too.
	type group struct{ node, ns string }
	var groups []group
	doomed := map[group][]*corev1.Pod{}
	spare := map[group]bool{}
	count := 0
	for _, n := range in.Draining {
		for i := range n.Pods {
			pod := &n.Pods[i]
			g := group{node: n.Node.Name, ns: pod.Namespace}
			switch {
			case isDaemonSetPod(pod) || isMirrorPod(pod):
				spare[g] = true
				continue
			case pod.DeletionTimestamp != nil || isTerminal(pod):
				continue // going already, or finished
			case !slices.Contains(p.allowed, pod.Namespace):
				// The preflight refused these; never delete a collection
				// outside safety.namespaces.
				return fmt.Errorf("refusing to cut over region %s: pod %s is outside safety.namespaces %v", rc.From, podKey(pod), p.allowed)
			}
			if _, ok := doomed[g]; !ok {
				groups = append(groups, g)
			}
			doomed[g] = append(doomed[g], pod)
			count++
		}
	}
	if p.meta == nil {
		return errors.New("kube platform: no metadata client to delete pods with")
	}
	start := p.opts.Clock.Now()
	if err := forEach(ctx, in.Draining, func(ctx context.Context, n NodeState) error {
		return p.cordonNode(ctx, n.Node.Name, n.Node, m)
	}); err != nil {
		return err
	}
	p.note(f.ID, "cordoned the %d nodes of region %s before deleting their pods", len(in.Draining), rc.From)

	var grace *int64
	if ds.grace != nil {
		grace = ptr.To(int64(ds.grace.Seconds()))
	}
	// Through the metadata client, whose answers are not decoded: the
	// deleted pods need not be read back in full.
	pods := p.meta.Resource(podsResource)
	var mu sync.Mutex
	gone := map[string]map[types.UID]string{} // node -> uid -> pod
	deleted := func(node string, pod *corev1.Pod) {
		p.tookEffect(f.ID)
		mu.Lock()
		defer mu.Unlock()
		if gone[node] == nil {
			gone[node] = map[types.UID]string{}
		}
		gone[node][pod.UID] = podKey(pod)
	}
	if err := forEach(ctx, groups, func(ctx context.Context, g group) error {
		if !spare[g] {
			err := pods.Namespace(g.ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: grace},
				metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", g.node).String()})
			if err != nil {
				return fmt.Errorf("deleting the pods of namespace %s on node %s: %w", g.ns, g.node, err)
			}
			for _, pod := range doomed[g] {
				deleted(g.node, pod)
			}
			return nil
		}
		for _, pod := range doomed[g] {
			err := pods.Namespace(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: grace,
				Preconditions:      &metav1.Preconditions{UID: &pod.UID},
			})
			switch {
			case err == nil:
				deleted(g.node, pod)
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				// gone already, or replaced by a pod of the same name
			default:
				return fmt.Errorf("deleting pod %s on node %s: %w", podKey(pod), g.node, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	p.note(f.ID, "deleted the %d pods on the %d nodes of region %s in %s (disruption budgets do not hold a lost region)",
		count, len(in.Draining), rc.From, p.opts.Clock.Since(start).Round(time.Millisecond))
	p.mu.Lock()
	st.regionDown, st.regionPods = true, gone
	p.mu.Unlock()
	return nil
}

// awaitRegionNode waits until the pods takeRegionDown deleted on a node
// are gone, with one field-selected List of the node's pods per poll (the
// informers watch Pending pods only, not the running ones deleted here).
func (p *Platform) awaitRegionNode(ctx context.Context, f platform.Fault, name string, ds drainSettings) error {
	st := p.state(f.ID)
	p.mu.Lock()
	want := st.regionPods[name]
	p.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	timeout := DefaultDrainTimeout
	if ds.timeout != nil {
		timeout = ds.timeout.Duration
	}
	var left []string
	err := wait.PollUntilContextTimeout(ctx, p.opts.PollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		left, err = p.podsLeftOn(ctx, name, want)
		return len(left) == 0, err
	})
	if err != nil && len(left) > 0 {
		slices.Sort(left)
		return fmt.Errorf("node %s of the lost region: %d pods still terminating after %s: %s: %w",
			name, len(left), timeout, strings.Join(left, ", "), err)
	}
	return err
}

// podsLeftOn lists the pods of want (uid -> namespace/name) still on a
// node, with one field-selected List.
func (p *Platform) podsLeftOn(ctx context.Context, node string, want map[types.UID]string) ([]string, error) {
	sel := fields.OneTermEqualSelector("spec.nodeName", node).String()
	pods, err := p.cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing pods on node %s: %w", node, err)
	}
	var left []string
	for _, pod := range pods.Items {
		if key, ok := want[pod.UID]; ok && pod.Spec.NodeName == node {
			left = append(left, key)
		}
	}
	return left, nil
}

// restoreRegion undoes takeRegionDown for the whole region at once, at the
// first node target reverted: every node this fault still holds is
// uncordoned, including nodes cordoned by an inject that failed before it
// reached their target.
func (p *Platform) restoreRegion(ctx context.Context, f platform.Fault) error {
	st, done := p.stateAnd(f.ID, func(s *faultState) bool { return s.regionRestored })
	if done {
		return nil
	}
	m := mark{RunID: f.RunID, Fault: f.ID}
	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("finding the nodes of the lost region: listing nodes: %w", err)
	}
	var held []*corev1.Node
	for i := range nodes.Items {
		if ownershipOf(nodes.Items[i].Annotations, m) == ours {
			held = append(held, &nodes.Items[i])
		}
	}
	if err := forEach(ctx, held, func(ctx context.Context, n *corev1.Node) error {
		return p.uncordon(ctx, n.Name, n, m)
	}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st.regionRestored = true
	// Every node of the region is back, including nodes an earlier,
	// partly failed call restored (their targets may never be reverted
	// again): no node target is down any more.
	for k := range st.down {
		if strings.HasPrefix(k, KindNode+"/") {
			delete(st.down, k)
		}
	}
	return nil
}

// forEach runs fn for every item, regionWorkers at a time. After the
// first failure it starts no more calls, lets those in flight finish and
// returns every error joined.
func forEach[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	var g errgroup.Group
	g.SetLimit(regionWorkers)
	var mu sync.Mutex
	var errs []error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > 0
	}
	for _, it := range items {
		if failed() {
			break
		}
		if err := ctx.Err(); err != nil {
			mu.Lock()
			errs = append(errs, context.Cause(ctx))
			mu.Unlock()
			break
		}
		g.Go(func() error {
			if err := fn(ctx, it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}
