package local

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/faults"
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
		return p.sandbox(sup).Drain(ctx, spec.NodeDrain, t.Name, observer{p, f})
	case spec.GPUFailure != nil:
		return p.sandbox(sup).FailGPU(ctx, spec.GPUFailure, t.Name, observer{p, f})
	case spec.ModelStoreOutage != nil:
		return p.sandbox(sup).StoreOutage(ctx, spec.ModelStoreOutage, t.Region, f.RunID+"/"+f.ID, observer{p, f})
	case spec.RegionCutover != nil:
		return p.sandbox(sup).Cutover(ctx, spec.RegionCutover, observer{p, f})
	}
	return platform.ErrUnsupported
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
		return p.sandbox(sup).RevertCutover(ctx, spec.RegionCutover)
	}
	return platform.ErrUnsupported
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

// sandbox is what the faults act on: the started sandbox's parts.
func (p *Platform) sandbox(sup *supervisor.Supervisor) faults.Sandbox {
	return faults.Sandbox{Sup: sup, FrontDoor: p.FrontDoor(), Proxies: p.proxies, Stores: stores{p},
		Clock: p.opts.Clock, Regions: p.regions, Order: p.order, Primary: p.primary}
}

// stores stops and restarts the sandbox's store processes.
type stores struct{ p *Platform }

// Stop kills a region's store process.
func (s stores) Stop(ctx context.Context, region string) error { return s.p.stopStore(ctx, region) }

// Restart starts a region's stopped store again.
func (s stores) Restart(ctx context.Context, region string) error {
	return s.p.restartStore(ctx, region)
}

// observer reports what a fault did as the fault's events.
type observer struct {
	p *Platform
	f platform.Fault
}

// TookEffect reports that the fault's disruptive action succeeded now.
func (o observer) TookEffect() { o.p.tookEffect(o.f) }

// Note reports an observation about the fault, now.
func (o observer) Note(format string, args ...any) { o.p.note(o.f, format, args...) }
