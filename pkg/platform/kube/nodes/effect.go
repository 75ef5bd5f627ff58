package nodes

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/kubernetes"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"
)

// EvictionRecorder is a clientset whose policy/v1 evictions call
// OnEvicted when the API server accepted them. kubectl's drain helper
// evicts through it, so a drain's first eviction, not the end of the
// drain (which waits for the pods to be gone), marks the fault injected.
type EvictionRecorder struct {
	kubernetes.Interface
	// OnEvicted is called after every accepted eviction.
	OnEvicted func()
}

// PolicyV1 implements kubernetes.Interface.
func (e EvictionRecorder) PolicyV1() policyv1client.PolicyV1Interface {
	return policyRecorder{PolicyV1Interface: e.Interface.PolicyV1(), onEvicted: e.OnEvicted}
}

type policyRecorder struct {
	policyv1client.PolicyV1Interface
	onEvicted func()
}

func (p policyRecorder) Evictions(namespace string) policyv1client.EvictionInterface {
	return evictionsRecorder{EvictionInterface: p.PolicyV1Interface.Evictions(namespace), onEvicted: p.onEvicted}
}

type evictionsRecorder struct {
	policyv1client.EvictionInterface
	onEvicted func()
}

func (e evictionsRecorder) Evict(ctx context.Context, eviction *policyv1.Eviction) error {
	err := e.EvictionInterface.Evict(ctx, eviction)
	if err == nil {
		e.onEvicted()
	}
	return err
}
