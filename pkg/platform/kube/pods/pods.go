package pods

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Candidates lists the running pods of namespace ns that filter selects,
// as pod targets named namespace/name with their node's region (or the
// scope's cluster region) and their labels.
func Candidates(ctx context.Context, r client.Reader, ns string, filter objects.PodFilter) ([]evidence.Target, error) {
	var opts []client.ListOption
	opts = append(opts, client.InNamespace(ns))
	if filter.Selector != nil && !filter.Selector.Empty() {
		opts = append(opts, client.MatchingLabelsSelector{Selector: filter.Selector})
	}
	var list corev1.PodList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	nodes, err := NodesByName(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []evidence.Target
	for i := range list.Items {
		pod := &list.Items[i]
		node := nodes[pod.Spec.NodeName]
		if !filter.Matches(pod, node) {
			continue
		}
		region := objects.RegionOr(objects.RegionOfNode(node), filter.Scope.Cluster)
		out = append(out, evidence.Target{Kind: evidence.KindPod, Name: objects.PodKey(pod), Region: region, Labels: pod.Labels})
	}
	return out, nil
}

// NodesByName lists every node.
func NodesByName(ctx context.Context, r client.Reader) (map[string]*corev1.Node, error) {
	var nodes corev1.NodeList
	if err := r.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	out := make(map[string]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		out[nodes.Items[i].Name] = &nodes.Items[i]
	}
	return out, nil
}

// Killed is what Kill did to one pod.
type Killed struct {
	// UID is the uid of the pod Kill found under the name; empty when
	// there was none.
	UID types.UID
	// Deleted says Kill's delete succeeded: the fault took effect.
	Deleted bool
}

// Kill deletes the pod namespace/name with grace (nil or 0 kills at once),
// with its uid as a precondition so that a replacement of the same name
// (a StatefulSet pod) is never killed by mistake. before is what an
// earlier Kill of the same fault did to this name: a pod it already
// deleted, and now terminating or replaced, is left alone, so Kill is
// idempotent. A pod that is gone counts as killed.
func Kill(ctx context.Context, c client.Client, key string, grace *metav1.Duration, before *Killed) (Killed, error) {
	ns, n, err := objects.SplitKey(key)
	if err != nil {
		return Killed{}, err
	}
	var pod corev1.Pod
	err = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, &pod)
	if apierrors.IsNotFound(err) {
		return Killed{}, nil
	}
	if err != nil {
		return Killed{}, fmt.Errorf("getting pod %s: %w", key, err)
	}
	if before != nil && (before.UID != pod.UID || pod.DeletionTimestamp != nil) {
		return *before, nil
	}
	var seconds int64
	if grace != nil {
		seconds = int64(grace.Seconds())
	}
	uid := pod.UID
	err = c.Delete(ctx, &pod, client.GracePeriodSeconds(seconds), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return Killed{}, fmt.Errorf("deleting pod %s: %w", key, err)
	}
	return Killed{UID: uid, Deleted: err == nil}, nil
}

// OfWorkloads lists the running pods of the given workloads (selected by
// each one's pod selector), in region when set, sorted by name and without
// duplicates. Workloads that do not exist are skipped.
func OfWorkloads(ctx context.Context, r client.Reader, selectors map[string][]*metav1.LabelSelector, region string, scope objects.Scope) ([]corev1.Pod, error) {
	nodes, err := NodesByName(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, ns := range sortedKeys(selectors) {
		for _, ls := range selectors[ns] {
			sel, err := objects.SelectorOf(ls)
			if err != nil {
				return nil, err
			}
			var list corev1.PodList
			if err := r.List(ctx, &list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
			}
			f := objects.PodFilter{Region: region, Scope: scope}
			for i := range list.Items {
				if f.Matches(&list.Items[i], nodes[list.Items[i].Spec.NodeName]) {
					out = append(out, list.Items[i])
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(objects.PodKey(&a), objects.PodKey(&b)) })
	return slices.CompactFunc(out, func(a, b corev1.Pod) bool { return objects.PodKey(&a) == objects.PodKey(&b) }), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
