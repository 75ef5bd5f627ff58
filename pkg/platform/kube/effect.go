package kube

import (
	"context"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/kubernetes"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"

	"github.com/firedrill/firedrill/pkg/platform"
)

// tookEffect records that a disruptive call of fault id succeeded now;
// the first such instant is the fault's injected instant.
func (p *Platform) tookEffect(id string) {
	s := p.state(id)
	now := p.opts.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.effect.IsZero() || now.Before(s.effect) {
		s.effect = now
	}
}

// TookEffect implements platform.EffectReporter: the instant the first
// pod of f was deleted or evicted, or the first workload scaled down.
func (p *Platform) TookEffect(f platform.Fault) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.faults[f.ID]
	if !ok || s.effect.IsZero() {
		return time.Time{}, false
	}
	return s.effect, true
}

// evictionRecorder is a clientset whose policy/v1 evictions call
// onEvicted when the API server accepted them. kubectl's drain helper
// evicts through it, so a drain's first eviction, not the end of the
// drain (which waits for the pods to be gone), marks the fault injected.
type evictionRecorder struct {
	kubernetes.Interface
	onEvicted func()
}

func (e evictionRecorder) PolicyV1() policyv1client.PolicyV1Interface {
	return policyRecorder{PolicyV1Interface: e.Interface.PolicyV1(), onEvicted: e.onEvicted}
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
