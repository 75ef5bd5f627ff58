package region

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
)

// regionWorkers bounds the requests a region cutover has in flight; the
// client's rate limiter (--kube-qps, --kube-burst) bounds their rate.
const regionWorkers = 16

// group is the pods of one namespace on one node.
type group struct{ node, ns string }

// deletion is how a region's pods go: by node and namespace, one
// DeleteCollection each, selected by spec.nodeName, so a region of a
// thousand pods costs a hundred requests, not a thousand. A node that runs
// DaemonSet or mirror pods in a namespace, which a drain leaves, has that
// namespace's pods deleted one by one instead (spare), each with its uid
// as a precondition. Finished pods are left: they hold nothing and may lie
// outside safety.namespaces, where no collection may be deleted. A
// DeleteCollection also takes pods that reached the node after the
// capacity check: on a cordoned node only DaemonSet pods can, and a lost
// region loses them too.
type deletion struct {
	groups []group
	doomed map[group][]*corev1.Pod
	spare  map[group]bool
	count  int
}

// planDeletion plans the deletion of the pods of the draining nodes of in.
func planDeletion(in placement.Input, allowed []string, from string) (deletion, error) {
	d := deletion{doomed: map[group][]*corev1.Pod{}, spare: map[group]bool{}}
	for _, n := range in.Draining {
		for i := range n.Pods {
			pod := &n.Pods[i]
			g := group{node: n.Node.Name, ns: pod.Namespace}
			switch {
			case objects.IsDaemonSetPod(pod) || objects.IsMirrorPod(pod):
				d.spare[g] = true
				continue
			case pod.DeletionTimestamp != nil || objects.IsTerminal(pod):
				continue // going already, or finished
			case !slices.Contains(allowed, pod.Namespace):
				// The capacity check refused these; never delete a
				// collection outside safety.namespaces.
				return deletion{}, fmt.Errorf("refusing to cut over region %s: pod %s is %w %v", from, objects.PodKey(pod), errNotAllowed, allowed)
			}
			if _, ok := d.doomed[g]; !ok {
				d.groups = append(d.groups, g)
			}
			d.doomed[g] = append(d.doomed[g], pod)
			d.count++
		}
	}
	return d, nil
}

// errNotAllowed is wrapped by a refusal to delete outside safety.namespaces.
var errNotAllowed = errors.New("outside safety.namespaces")

// deletePods carries out a deletion, regionWorkers requests at a time,
// through pod metadata (the deleted pods need not be read back in full),
// each pod with its own grace period.
// It returns the pods deleted, node -> uid -> namespace/name.
func (c Cutover) deletePods(ctx context.Context, d deletion, obs Observer) (map[string]map[types.UID]string, error) {
	var mu sync.Mutex
	gone := map[string]map[types.UID]string{}
	deleted := func(node string, pod *corev1.Pod) {
		obs.TookEffect()
		mu.Lock()
		defer mu.Unlock()
		if gone[node] == nil {
			gone[node] = map[types.UID]string{}
		}
		gone[node][pod.UID] = objects.PodKey(pod)
	}
	err := forEach(ctx, d.groups, func(ctx context.Context, g group) error {
		if !d.spare[g] {
			err := c.Client.DeleteAllOf(ctx, podMeta(g.ns, ""), client.InNamespace(g.ns),
				client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.nodeName", g.node)})
			if err != nil {
				return fmt.Errorf("deleting the pods of namespace %s on node %s: %w", g.ns, g.node, err)
			}
			for _, pod := range d.doomed[g] {
				deleted(g.node, pod)
			}
			return nil
		}
		for _, pod := range d.doomed[g] {
			uid := pod.UID
			err := c.Client.Delete(ctx, podMeta(pod.Namespace, pod.Name), client.Preconditions{UID: &uid})
			switch {
			case err == nil:
				deleted(g.node, pod)
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
				// gone already, or replaced by a pod of the same name
			default:
				return fmt.Errorf("deleting pod %s on node %s: %w", objects.PodKey(pod), g.node, err)
			}
		}
		return nil
	})
	return gone, err
}

// podMeta is a pod addressed by its metadata only.
func podMeta(ns, name string) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	return p
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
