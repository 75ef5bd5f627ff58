package watch

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The informers' transforms drop what the platform never reads before an
// object is cached, so a cluster's churn costs less memory and garbage
// collection. Each is idempotent and mutates in place (client-go hands the
// transform a freshly decoded object), and passes anything else through,
// such as cache.DeletedFinalStateUnknown.

// stripManagedFields drops the server-side apply bookkeeping, the largest
// part of most objects' metadata.
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// trimNode drops managed fields and the node's image list.
func trimNode(obj any) (any, error) {
	if n, ok := obj.(*corev1.Node); ok {
		n.ManagedFields = nil
		n.Status.Images = nil
	}
	return obj, nil
}

// trimPendingPod keeps what seePod, waitsForGPU and podKey read:
// identity, labels, the creation time, the node and the phase and
// conditions.
func trimPendingPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ObjectMeta = metav1.ObjectMeta{
		Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		Labels: pod.Labels, CreationTimestamp: pod.CreationTimestamp,
	}
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	pod.Status = corev1.PodStatus{Phase: pod.Status.Phase, Conditions: pod.Status.Conditions}
	return pod, nil
}

// objectCounts counts the objects the informers received, listed or
// watched, by resource. The transforms count them in the reflectors'
// goroutines, so counting adds no goroutine and no event handler.
type objectCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

// counted wraps a transform so that it counts what it sees.
func (c *objectCounts) counted(fn cache.TransformFunc) cache.TransformFunc {
	return func(obj any) (any, error) {
		if r := resourceOf(obj); r != "" {
			c.mu.Lock()
			if c.n == nil {
				c.n = map[string]int64{}
			}
			c.n[r]++
			c.mu.Unlock()
		}
		return fn(obj)
	}
}

// String renders the counts as "deployments=12 pods=3400", sorted.
func (c *objectCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.n))
	for k := range c.n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c.n[k])
	}
	return strings.Join(parts, " ")
}

// resourceOf names what an informer received; the pods the platform
// watches are the Pending ones.
func resourceOf(obj any) string {
	switch obj.(type) {
	case *corev1.Node:
		return "nodes"
	case *corev1.Pod:
		return "pods(pending)"
	case *appsv1.Deployment:
		return "deployments"
	case *appsv1.StatefulSet:
		return "statefulsets"
	case *discoveryv1.EndpointSlice:
		return "endpointslices"
	}
	return ""
}
