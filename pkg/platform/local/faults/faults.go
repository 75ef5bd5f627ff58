package faults

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	"github.com/firedrill/firedrill/pkg/platform/local/storeproxy"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// Stores stops and restarts a region's model store process; both are
// idempotent.
type Stores interface {
	// Stop kills the store of region.
	Stop(ctx context.Context, region string) error
	// Restart starts the stopped store of region again on the same data.
	Restart(ctx context.Context, region string) error
}

// Observer reports what a fault did.
type Observer interface {
	// TookEffect says the fault's disruptive action succeeded now.
	TookEffect()
	// Note records an observation about the fault, now.
	Note(format string, args ...any)
}

// Sandbox is what the faults act on in a started sandbox.
type Sandbox struct {
	// Sup keeps the regions' replicas.
	Sup *supervisor.Supervisor
	// FrontDoor switches traffic between regions.
	FrontDoor *frontdoor.Client
	// Proxies carry the toxics between replicas and their stores.
	Proxies *storeproxy.Proxies
	// Stores stops and restarts store processes.
	Stores Stores
	// Clock times drains and waits.
	Clock clock.Clock
	// Regions are the regions and their nodes; Order their names in the
	// plan's order; Primary the region traffic goes to.
	Regions []supervisor.Region
	Order   []string
	Primary string
}

// Drain drains node as `kubectl drain` would and returns once it is
// empty.
func (s Sandbox) Drain(ctx context.Context, d *v1alpha1.NodeDrain, node string, obs Observer) error {
	if s.Sup.Cordoned(node) && s.Sup.Drained(node) {
		return nil // idempotent
	}
	plan, err := s.Sup.PlanDrain(node)
	if err != nil {
		return err
	}
	if len(plan.Victims) > plan.Free {
		msg := fmt.Sprintf("node %s runs %d replica(s) but the rest of its region has room for %d", node, len(plan.Victims), plan.Free)
		if d.OnInsufficientCapacity != v1alpha1.CapacityWarn {
			return fmt.Errorf("refusing to drain: %s (onInsufficientCapacity: refuse)", msg)
		}
		obs.Note("drained although %s (onInsufficientCapacity: warn)", msg)
	}
	timeout := 2 * time.Minute
	if d.Timeout != nil {
		timeout = d.Timeout.Duration
	}
	t0 := s.Clock.Now()
	if err := s.Sup.Drain(node); err != nil {
		return err
	}
	obs.TookEffect()
	deadline := t0.Add(timeout)
	for !s.Sup.Drained(node) {
		if s.Clock.Now().After(deadline) {
			return fmt.Errorf("draining node %s: still running replicas after %s", node, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining node %s: %w", node, ctx.Err())
		case <-s.Clock.After(20 * time.Millisecond):
		}
	}
	var moved []string
	for _, e := range s.Sup.Events(t0) {
		if e.Type == supervisor.EventScheduled && e.Region == regionOfNode(s.Regions, node) {
			moved = append(moved, e.Replica+" on "+e.Node)
		}
	}
	what := "replacement(s) " + strings.Join(moved, ", ") + " started first"
	if len(moved) == 0 {
		what = "no replacement could be scheduled first"
	}
	obs.Note("node %s cordoned and drained in %s: %s; replica(s) %s stopped gracefully", node,
		s.Clock.Since(t0).Round(time.Millisecond), what, strings.Join(plan.Victims, ", "))
	return nil
}

func regionOfNode(regions []supervisor.Region, node string) string {
	for _, r := range regions {
		for _, n := range r.Nodes {
			if n.Name == node {
				return r.Name
			}
		}
	}
	return ""
}

// StoreOutage breaks one region's store and restarts this region's share
// of restartReplicas; key (run/step) picks which replicas.
func (s Sandbox) StoreOutage(ctx context.Context, o *v1alpha1.ModelStoreOutage, region, key string, obs Observer) error {
	switch o.Mode {
	case v1alpha1.OutageSlow:
		latency := 2 * time.Second
		if o.Latency != nil {
			latency = o.Latency.Duration
		}
		if err := s.Proxies.Slow("store-"+region, latency); err != nil {
			return err
		}
	case v1alpha1.OutageHang:
		if err := s.Proxies.Hang("store-" + region); err != nil {
			return err
		}
	default:
		if err := s.Stores.Stop(ctx, region); err != nil {
			return err
		}
	}
	obs.TookEffect()
	n := s.restartShare(o, region)
	if n == 0 {
		return nil
	}
	var cands []string
	for _, r := range s.Sup.Replicas() {
		if r.Region == region && r.Phase == supervisor.PhaseReady && !r.Evicting {
			cands = append(cands, r.Name)
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	var killed []string
	for i := 0; i < n && len(cands) > 0; i++ {
		j := int(h.Sum32()+uint32(i)) % len(cands) //nolint:gosec // small.
		name := cands[j]
		cands = slices.Delete(cands, j, j+1)
		if err := s.Sup.Kill(ctx, name, 0); err != nil {
			return err
		}
		killed = append(killed, name)
	}
	if len(killed) > 0 {
		obs.Note("killed replica(s) %s during the outage so they restart without the store", strings.Join(killed, ", "))
	}
	return nil
}

// restartShare is how many of restartReplicas region restarts: spread over
// the fault's regions in order.
func (s Sandbox) restartShare(o *v1alpha1.ModelStoreOutage, region string) int {
	total := int(o.RestartReplicas)
	if o.Region != "" {
		return total
	}
	k := len(s.Order)
	i := slices.Index(s.Order, region)
	share := total / k
	if i < total%k {
		share++
	}
	return share
}

// Cutover takes a region down and moves traffic away from it.
func (s Sandbox) Cutover(ctx context.Context, c *v1alpha1.RegionCutover, obs Observer) error {
	fd := s.FrontDoor
	if c.Traffic == v1alpha1.TrafficManual {
		// Manual: no automatic failover; traffic moves when switched.
		if _, err := fd.SwitchTo(ctx, c.From); err != nil {
			return err
		}
	}
	obs.TookEffect()
	if err := s.Sup.SetRegionDown(ctx, c.From, true); err != nil {
		return err
	}
	if err := s.Stores.Stop(ctx, c.From); err != nil {
		return err
	}
	if c.Traffic == v1alpha1.TrafficManual {
		t0 := s.Clock.Now()
		if _, err := fd.SwitchTo(ctx, c.To); err != nil {
			return err
		}
		obs.Note("traffic switched manually from %s to %s through the front door's control API (the switch took %s)", c.From, c.To, s.Clock.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// RevertCutover brings a region a cutover took down back, and returns
// once its replicas are ready and traffic is on the primary region again.
func (s Sandbox) RevertCutover(ctx context.Context, c *v1alpha1.RegionCutover) error {
	if err := s.Stores.Restart(ctx, c.From); err != nil {
		return err
	}
	if err := s.Sup.SetRegionDown(ctx, c.From, false); err != nil {
		return err
	}
	// Wait until the region is back (replicas ready) and traffic is on
	// the primary again: by health in auto mode, by an explicit switch
	// in manual mode, as the runbook would once the region is ready.
	fd := s.FrontDoor
	switched := false
	for {
		if regionReady(s.Sup, c.From) {
			if c.Traffic == v1alpha1.TrafficManual && !switched {
				if _, err := fd.SwitchTo(ctx, ""); err != nil {
					return err
				}
				switched = true
			}
			if st, err := fd.State(ctx); err == nil && st.Active == s.Primary {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for region %s to come back: %w", c.From, ctx.Err())
		case <-s.Clock.After(50 * time.Millisecond):
		}
	}
}

func regionReady(sup *supervisor.Supervisor, region string) bool {
	for _, c := range sup.Capacity() {
		if c.Region == region {
			return c.Ready >= c.Desired
		}
	}
	return false
}
