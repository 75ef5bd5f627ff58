package kube

import (
	"context"
	"fmt"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Inject implements platform.Platform: it applies f to one target. It is
// idempotent: a repeated call finds its own marks and completes what the
// first began.
func (p *Platform) Inject(ctx context.Context, f platform.Fault, t platform.Target) error {
	p.state(f.ID)
	log.FromContext(ctx).Info("injecting", "step", f.ID, "target", t.Kind+"/"+t.Name)
	s := f.Spec
	switch {
	case s.PodKill != nil && t.Kind == KindPod:
		return p.killPod(ctx, f, t.Name, s.PodKill.GracePeriod)
	case s.NodeDrain != nil && t.Kind == KindNode:
		return p.drainNode(ctx, f, t.Name, drainSettings{
			timeout: s.NodeDrain.Timeout, grace: s.NodeDrain.GracePeriod, policy: s.NodeDrain.OnInsufficientCapacity,
		})
	case s.RegionCutover != nil && (t.Kind == KindNode || t.Kind == KindWorkload):
		return p.cutover(ctx, f, t)
	case s.ModelStoreOutage != nil && t.Kind == KindStore:
		return p.storeOutage(ctx, f, t)
	case s.ChaosMesh != nil && t.Kind == KindChaos:
		return p.createChaos(ctx, f, t)
	}
	return fmt.Errorf("target %s/%s for step %s: %w", t.Kind, t.Name, f.ID, platform.ErrUnsupported)
}

// Revert implements platform.Platform: it undoes f on one target. It is
// idempotent, and it only restores objects that carry this fault's marks.
func (p *Platform) Revert(ctx context.Context, f platform.Fault, t platform.Target) error {
	log.FromContext(ctx).Info("reverting", "step", f.ID, "target", t.Kind+"/"+t.Name)
	var err error
	if f.Spec.RegionCutover != nil && t.Kind == KindNode {
		// The region comes back at once, at its first node: every node
		// the fault holds, whether or not its target was reached.
		err = p.restoreRegion(ctx, f)
	} else {
		err = p.revertOne(ctx, f, t)
	}
	if err != nil {
		return err
	}
	if f.Spec.RegionCutover != nil {
		st := p.state(f.ID)
		p.mu.Lock()
		delete(st.down, t.Kind+"/"+t.Name)
		left := len(st.down)
		p.mu.Unlock()
		if left > 0 {
			return nil // targets this process took down are still down
		}
		return p.maybeFailBack(ctx, f, false)
	}
	return nil
}
