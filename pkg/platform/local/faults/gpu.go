package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// FailGPU makes node lose its GPU, as an Xid 79 would: its replicas die
// (SIGKILL, or SIGTERM first with a gracePeriod) and the supervisor places
// none on it until revert, so they come back on other nodes of the region
// when there is room. A failure the rest of the region cannot absorb is
// refused before anything is touched, unless onInsufficientCapacity is
// warn.
func (s Sandbox) FailGPU(ctx context.Context, g *v1alpha1.GPUFailure, node string, obs Observer) error {
	if s.Sup.GPULost(node) {
		return nil // idempotent
	}
	plan, err := s.Sup.PlanDrain(node)
	if err != nil {
		return err
	}
	short := ""
	if len(plan.Victims) > plan.Free {
		short = fmt.Sprintf("node %s runs %d replica(s) but the rest of its region has room for %d", node, len(plan.Victims), plan.Free)
		if g.OnInsufficientCapacity != v1alpha1.CapacityWarn {
			return fmt.Errorf("refusing to fail the GPU: %s (onInsufficientCapacity: refuse)", short)
		}
	}
	var grace time.Duration
	if g.GracePeriod != nil {
		grace = g.GracePeriod.Duration
	}
	obs.TookEffect()
	killed, err := s.Sup.FailGPU(ctx, node, grace)
	if err != nil {
		return fmt.Errorf("failing the GPU of node %s: %w", node, err)
	}
	how := "killed at once"
	if grace > 0 {
		how = fmt.Sprintf("stopped with a %s grace period", grace)
	}
	what := "it ran no replica"
	if len(killed) > 0 {
		what = fmt.Sprintf("replica(s) %s %s", strings.Join(killed, ", "), how)
	}
	obs.Note("node %s lost its GPU: %s; no replica is placed on it until revert", node, what)
	if short != "" {
		obs.Note("failed the GPU although %s (onInsufficientCapacity: warn): %d replica(s) wait for a node until revert (lost GPU capacity)",
			short, len(plan.Victims)-plan.Free)
	}
	return nil
}
