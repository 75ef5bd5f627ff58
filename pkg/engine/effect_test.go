package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// slowDrain is a platform whose Inject, like a node drain, returns long
// after the fault took effect: capacity is lost at the first eviction and
// is back before Inject returns.
type slowDrain struct {
	platform.None
	lostFor, injectFor time.Duration

	mu     sync.Mutex
	effect time.Time
}

func (p *slowDrain) Name() string { return "kubernetes" }

func (p *slowDrain) Targets(context.Context, platform.Fault) ([]platform.Target, error) {
	return []platform.Target{{Kind: "node", Name: "gpu-1"}}, nil
}

func (p *slowDrain) Inject(context.Context, platform.Fault, platform.Target) error {
	p.mu.Lock()
	p.effect = time.Now()
	p.mu.Unlock()
	time.Sleep(p.injectFor)
	return nil
}

func (p *slowDrain) Revert(context.Context, platform.Fault, platform.Target) error { return nil }

func (p *slowDrain) Capacity(context.Context) ([]slo.CapacityPoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ready := 3
	if !p.effect.IsZero() && time.Since(p.effect) < p.lostFor {
		ready = 2
	}
	return []slo.CapacityPoint{{At: time.Now(), Workload: "Deployment/ns/recs", Desired: 3, Ready: ready}}, nil
}

func (p *slowDrain) TookEffect(platform.Fault) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.effect, !p.effect.IsZero()
}

// TestInjectedIsWhenTheFaultTookEffect: a drain whose replacement is ready
// before the drain returns still reports the capacity it lost, measured
// from the first eviction.
func TestInjectedIsWhenTheFaultTookEffect(t *testing.T) {
	s := newSUT(t)
	p := loadPlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: drain}
spec:
  target: {platform: kubernetes, namespace: ns}
  system: {endpoint: %q, workloads: [{name: recs}]}
  load: {rate: 50, timeout: 300ms, requests: [{name: root, path: /}]}
  objectives: {rto: 30s, recovered: {for: 300ms}}
  safety: {maxNodes: 1}
  steps:
    - {name: baseline, wait: 300ms}
    - name: drain
      fault:
        nodeDrain: {mode: one}
`, s.url))
	drain := &slowDrain{lostFor: 400 * time.Millisecond, injectFor: 900 * time.Millisecond}
	e, _ := newEngine(t, drain)
	rep, err := e.Run(context.Background(), p)
	require.NoError(t, err)
	f := rep.Steps[1].Fault
	require.NotNil(t, f, rep.Message)
	effect, _ := drain.TookEffect(platform.Fault{})
	require.True(t, f.Injected.Equal(effect), "injected %s is the first eviction %s, not the end of the drain", f.Injected, effect)
	require.NotNil(t, f.Result.CapacityRTO, f.Result.Notes)
	require.Positive(t, *f.Result.CapacityRTO, "capacity was lost while the drain ran")
	require.Less(t, *f.Result.CapacityRTO, drain.injectFor, "and was back before the drain returned")
}

func TestKeepCapacityKeepsChangesOnly(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	pt := func(s int, w string, desired, ready int) slo.CapacityPoint {
		return slo.CapacityPoint{At: at(s), Workload: w, Desired: desired, Ready: ready}
	}
	r := &run{}
	r.keepCapacity([]slo.CapacityPoint{pt(0, "a", 3, 3), pt(0, "b", 2, 2)})
	r.keepCapacity([]slo.CapacityPoint{pt(1, "a", 3, 3), pt(1, "b", 2, 2)})
	r.keepCapacity([]slo.CapacityPoint{pt(2, "a", 3, 2), pt(2, "b", 2, 2)})
	r.keepCapacity([]slo.CapacityPoint{pt(3, "a", 3, 2), pt(3, "b", 2, 2)})
	r.keepCapacity([]slo.CapacityPoint{pt(4, "a", 3, 3), pt(4, "b", 1, 1)})
	require.Equal(t, []slo.CapacityPoint{
		pt(0, "a", 3, 3), pt(0, "b", 2, 2),
		pt(2, "a", 3, 2),
		pt(4, "a", 3, 3), pt(4, "b", 1, 1),
	}, r.capacity)
	res := slo.AnalyzeFault(slo.FaultInput{Injected: at(1), End: at(10), Capacity: r.capacity}, slo.Objectives{RTO: time.Minute})
	require.NotNil(t, res.CapacityRTO)
	require.Equal(t, 3*time.Second, *res.CapacityRTO, "the kept changes give the same capacity RTO as every sample")
}
