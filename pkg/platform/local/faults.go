package local

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// faultState is what the sandbox remembers about an injected fault.
type faultState struct {
	id       string
	injected time.Time
	reverted time.Time
	// outage is set for a store outage or a cutover, whose replacements
	// start without a store.
	outage bool
}

func faultKey(f platform.Fault) string { return f.RunID + "/" + f.ID }

func (p *Platform) state(f platform.Fault) *faultState {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs, ok := p.faults[faultKey(f)]
	if !ok {
		fs = &faultState{id: f.ID, outage: f.Spec.ModelStoreOutage != nil || f.Spec.RegionCutover != nil}
		p.faults[faultKey(f)] = fs
	}
	return fs
}

// note reports an observation about f, now.
func (p *Platform) note(f platform.Fault, format string, args ...any) {
	p.record(evidence.Event{Type: evidence.EventNote, At: p.opts.Clock.Now(), Fault: f.ID, Message: fmt.Sprintf(format, args...)})
}

// tookEffect reports that f's first disruptive action succeeded now; the
// engine keeps the earliest.
func (p *Platform) tookEffect(f platform.Fault) {
	p.record(evidence.Event{Type: evidence.EventTookEffect, At: p.opts.Clock.Now(), Fault: f.ID})
}

func (p *Platform) started() (*supervisor.Supervisor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running || p.sup == nil {
		return nil, errNotStarted
	}
	return p.sup, nil
}

// Inject implements platform.Platform.
func (p *Platform) Inject(ctx context.Context, f platform.Fault, t evidence.Target) error {
	sup, err := p.started()
	if err != nil {
		return err
	}
	fs := p.state(f)
	p.mu.Lock()
	if fs.injected.IsZero() {
		fs.injected = p.opts.Clock.Now()
	}
	p.current = fs
	p.mu.Unlock()
	spec := f.Spec
	switch {
	case spec.PodKill != nil:
		var grace time.Duration
		if g := spec.PodKill.GracePeriod; g != nil {
			grace = g.Duration
		}
		p.tookEffect(f)
		return sup.Kill(ctx, t.Name, grace)
	case spec.NodeDrain != nil:
		return p.drain(ctx, sup, f, spec.NodeDrain, t.Name)
	case spec.GPUFailure != nil:
		return p.failGPU(ctx, sup, f, spec.GPUFailure, t.Name)
	case spec.ModelStoreOutage != nil:
		return p.storeOutage(ctx, sup, f, spec.ModelStoreOutage, t.Region)
	case spec.RegionCutover != nil:
		return p.cutover(ctx, sup, f, spec.RegionCutover)
	}
	return platform.ErrUnsupported
}

// drain drains node as `kubectl drain` would and returns once it is empty.
func (p *Platform) drain(ctx context.Context, sup *supervisor.Supervisor, f platform.Fault, d *v1alpha1.NodeDrain, node string) error {
	if sup.Cordoned(node) && sup.Drained(node) {
		return nil // idempotent
	}
	plan, err := sup.PlanDrain(node)
	if err != nil {
		return err
	}
	if len(plan.Victims) > plan.Free {
		msg := fmt.Sprintf("node %s runs %d replica(s) but the rest of its region has room for %d", node, len(plan.Victims), plan.Free)
		if d.OnInsufficientCapacity != v1alpha1.CapacityWarn {
			return fmt.Errorf("refusing to drain: %s (onInsufficientCapacity: refuse)", msg)
		}
		p.note(f, "drained although %s (onInsufficientCapacity: warn)", msg)
	}
	timeout := 2 * time.Minute
	if d.Timeout != nil {
		timeout = d.Timeout.Duration
	}
	t0 := p.opts.Clock.Now()
	if err := sup.Drain(node); err != nil {
		return err
	}
	p.tookEffect(f)
	deadline := t0.Add(timeout)
	for !sup.Drained(node) {
		if p.opts.Clock.Now().After(deadline) {
			return fmt.Errorf("draining node %s: still running replicas after %s", node, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining node %s: %w", node, ctx.Err())
		case <-p.opts.Clock.After(20 * time.Millisecond):
		}
	}
	var moved []string
	for _, e := range sup.Events(t0) {
		if e.Type == supervisor.EventScheduled && e.Region == regionOfNode(p.regions, node) {
			moved = append(moved, e.Replica+" on "+e.Node)
		}
	}
	what := "replacement(s) " + strings.Join(moved, ", ") + " started first"
	if len(moved) == 0 {
		what = "no replacement could be scheduled first"
	}
	p.note(f, "node %s cordoned and drained in %s: %s; replica(s) %s stopped gracefully", node,
		p.opts.Clock.Since(t0).Round(time.Millisecond), what, strings.Join(plan.Victims, ", "))
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

// storeOutage breaks one region's store and restarts this region's share
// of restartReplicas.
func (p *Platform) storeOutage(ctx context.Context, sup *supervisor.Supervisor, f platform.Fault, o *v1alpha1.ModelStoreOutage, region string) error {
	switch o.Mode {
	case v1alpha1.OutageSlow:
		latency := 2 * time.Second
		if o.Latency != nil {
			latency = o.Latency.Duration
		}
		if err := p.proxies.Slow("store-"+region, latency); err != nil {
			return err
		}
	case v1alpha1.OutageHang:
		if err := p.proxies.Hang("store-" + region); err != nil {
			return err
		}
	default:
		if err := p.stopStore(ctx, region); err != nil {
			return err
		}
	}
	p.tookEffect(f)
	n := p.restartShare(o, region)
	if n == 0 {
		return nil
	}
	var cands []string
	for _, r := range sup.Replicas() {
		if r.Region == region && r.Phase == supervisor.PhaseReady && !r.Evicting {
			cands = append(cands, r.Name)
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(f.RunID + "/" + f.ID))
	var killed []string
	for i := 0; i < n && len(cands) > 0; i++ {
		j := int(h.Sum32()+uint32(i)) % len(cands) //nolint:gosec // small.
		name := cands[j]
		cands = slices.Delete(cands, j, j+1)
		if err := sup.Kill(ctx, name, 0); err != nil {
			return err
		}
		killed = append(killed, name)
	}
	if len(killed) > 0 {
		p.note(f, "killed replica(s) %s during the outage so they restart without the store", strings.Join(killed, ", "))
	}
	return nil
}

// restartShare is how many of restartReplicas region restarts: spread over
// the fault's regions in order.
func (p *Platform) restartShare(o *v1alpha1.ModelStoreOutage, region string) int {
	total := int(o.RestartReplicas)
	if o.Region != "" {
		return total
	}
	k := len(p.order)
	i := slices.Index(p.order, region)
	share := total / k
	if i < total%k {
		share++
	}
	return share
}

// stopStore kills a region's store process. It is idempotent.
func (p *Platform) stopStore(ctx context.Context, region string) error {
	p.mu.Lock()
	st := p.stores[region]
	p.mu.Unlock()
	if st == nil {
		return fmt.Errorf("no store in region %s", region)
	}
	if st.proc == nil || st.proc.Exited() {
		return nil
	}
	if err := st.proc.Kill(ctx); err != nil {
		return fmt.Errorf("stopping the %s store: %w", region, err)
	}
	return nil
}

// restartStore starts a stopped store again on the same data (and, when it
// is free, the same port). It is idempotent.
func (p *Platform) restartStore(ctx context.Context, region string) error {
	p.mu.Lock()
	st := p.stores[region]
	p.mu.Unlock()
	if st == nil {
		return fmt.Errorf("no store in region %s", region)
	}
	if st.proc != nil && !st.proc.Exited() {
		return nil
	}
	pr, err := p.startStore(ctx, st, st.addr)
	if err != nil {
		if pr, err = p.startStore(ctx, st, "127.0.0.1:0"); err != nil {
			return err
		}
	}
	p.mu.Lock()
	st.proc, st.addr = pr, pr.Addr("listening")
	p.mu.Unlock()
	return p.proxies.SetUpstream("store-"+region, st.addr)
}

// cutover takes a region down and moves traffic away from it.
func (p *Platform) cutover(ctx context.Context, sup *supervisor.Supervisor, f platform.Fault, c *v1alpha1.RegionCutover) error {
	fd := p.FrontDoor()
	if c.Traffic == v1alpha1.TrafficManual {
		// Manual: no automatic failover; traffic moves when switched.
		if _, err := fd.SwitchTo(ctx, c.From); err != nil {
			return err
		}
	}
	p.tookEffect(f)
	if err := sup.SetRegionDown(ctx, c.From, true); err != nil {
		return err
	}
	if err := p.stopStore(ctx, c.From); err != nil {
		return err
	}
	if c.Traffic == v1alpha1.TrafficManual {
		t0 := p.opts.Clock.Now()
		if _, err := fd.SwitchTo(ctx, c.To); err != nil {
			return err
		}
		p.note(f, "traffic switched manually from %s to %s through the front door's control API (the switch took %s)", c.From, c.To, p.opts.Clock.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// Revert implements platform.Platform.
func (p *Platform) Revert(ctx context.Context, f platform.Fault, t evidence.Target) error {
	sup, err := p.started()
	if err != nil {
		return nil //nolint:nilerr // a stopped sandbox left nothing to revert.
	}
	fs := p.state(f)
	p.mu.Lock()
	fs.reverted = p.opts.Clock.Now()
	p.mu.Unlock()
	spec := f.Spec
	switch {
	case spec.PodKill != nil:
		return nil // the supervisor replaced the replicas
	case spec.NodeDrain != nil:
		return sup.Uncordon(t.Name)
	case spec.GPUFailure != nil:
		return sup.RestoreGPU(t.Name)
	case spec.ModelStoreOutage != nil:
		if err := p.proxies.Heal(ctx, "store-"+t.Region); err != nil {
			return err
		}
		return p.restartStore(ctx, t.Region)
	case spec.RegionCutover != nil:
		c := spec.RegionCutover
		if err := p.restartStore(ctx, c.From); err != nil {
			return err
		}
		if err := sup.SetRegionDown(ctx, c.From, false); err != nil {
			return err
		}
		// Wait until the region is back (replicas ready) and traffic is on
		// the primary again: by health in auto mode, by an explicit switch
		// in manual mode, as the runbook would once the region is ready.
		fd := p.FrontDoor()
		switched := false
		for {
			if regionReady(sup, c.From) {
				if c.Traffic == v1alpha1.TrafficManual && !switched {
					if _, err := fd.SwitchTo(ctx, ""); err != nil {
						return err
					}
					switched = true
				}
				if st, err := fd.State(ctx); err == nil && st.Active == p.primary {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for region %s to come back: %w", c.From, ctx.Err())
			case <-p.opts.Clock.After(50 * time.Millisecond):
			}
		}
	}
	return platform.ErrUnsupported
}

func regionReady(sup *supervisor.Supervisor, region string) bool {
	for _, c := range sup.Capacity() {
		if c.Region == region {
			return c.Ready >= c.Desired
		}
	}
	return false
}

// Recover implements platform.Platform. A sandbox dies with the drill
// that ran it, so a crashed run's faults died with it; Recover only makes
// sure no process of a dead sandbox is left behind.
func (p *Platform) Recover(_ context.Context, _ platform.Fault, _ []evidence.Target) error {
	_, err := KillLeftovers(p.opts.StateDir)
	return err
}

// Capacity implements platform.Platform: desired versus ready replicas of
// every region, as workload Region/<name>.
func (p *Platform) Capacity(_ context.Context) ([]evidence.CapacityPoint, error) {
	sup, err := p.started()
	if err != nil {
		return nil, nil //nolint:nilerr // nothing to report before Start or after Stop.
	}
	now := p.opts.Clock.Now()
	var out []evidence.CapacityPoint
	for _, c := range sup.Capacity() {
		out = append(out, evidence.CapacityPoint{At: now, Workload: string(v1alpha1.WorkloadRegion) + "/" + c.Region, Desired: c.Desired, Ready: c.Ready})
	}
	return out, nil
}

// Clusters implements platform.Platform: a sandbox is no cluster.
func (p *Platform) Clusters() []evidence.Cluster { return nil }
