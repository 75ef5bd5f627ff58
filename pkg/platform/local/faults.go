package local

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
	"github.com/firedrill/firedrill/pkg/slo"
)

// faultState is what the sandbox remembers about an injected fault, for
// reverts and notes.
type faultState struct {
	injected time.Time
	reverted time.Time
	// killed are replicas the fault killed.
	killed []string
	notes  []string
	// switchedAt is when a manual cutover switched traffic.
	switchedAt time.Time
}

func faultKey(f platform.Fault) string { return f.RunID + "/" + f.ID }

func (p *Platform) state(f platform.Fault) *faultState {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs, ok := p.faults[faultKey(f)]
	if !ok {
		fs = &faultState{}
		p.faults[faultKey(f)] = fs
	}
	return fs
}

func (p *Platform) note(f platform.Fault, format string, args ...any) {
	fs := p.state(f)
	p.mu.Lock()
	defer p.mu.Unlock()
	fs.notes = append(fs.notes, fmt.Sprintf(format, args...))
}

func matches(sel *metav1.LabelSelector, l map[string]string) (bool, error) {
	if sel == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, fmt.Errorf("invalid selector: %w", err)
	}
	return s.Matches(labels.Set(l)), nil
}

// replicas returns the running replicas, or the planned initial ones
// before Start (for dry runs).
func (p *Platform) replicas() []supervisor.Replica {
	if sup := p.Supervisor(); sup != nil {
		var out []supervisor.Replica
		for _, r := range sup.Replicas() {
			if r.Phase != supervisor.PhaseTerminating && r.Phase != supervisor.PhasePending && !r.Evicting {
				out = append(out, r)
			}
		}
		return out
	}
	return supervisor.InitialPlacement(p.regions)
}

// Targets implements platform.Platform.
func (p *Platform) Targets(_ context.Context, f platform.Fault) ([]platform.Target, error) {
	spec := f.Spec
	var out []platform.Target
	switch {
	case spec.PodKill != nil:
		k := spec.PodKill
		for _, r := range p.replicas() {
			if (k.Region != "" && r.Region != k.Region) || (k.GPUOnly && !r.GPU) {
				continue
			}
			ok, err := matches(k.Selector, r.Labels)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, platform.Target{Kind: "pod", Name: r.Name, Region: r.Region, Labels: r.Labels})
			}
		}
	case spec.NodeDrain != nil:
		d := spec.NodeDrain
		var cordoned map[string]bool
		if sup := p.Supervisor(); sup != nil {
			_, cordoned = sup.Nodes()
		}
		for _, reg := range p.regions {
			for _, n := range reg.Nodes {
				if (d.Region != "" && n.Region != d.Region) || (d.GPUOnly && !n.GPU) || cordoned[n.Name] {
					continue
				}
				ok, err := matches(d.Selector, n.Labels)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, platform.Target{Kind: "node", Name: n.Name, Region: n.Region, Labels: n.Labels})
				}
			}
		}
	case spec.ModelStoreOutage != nil:
		for _, r := range p.order {
			if o := spec.ModelStoreOutage; o.Region == "" || o.Region == r {
				out = append(out, platform.Target{Kind: "store", Name: "store-" + r, Region: r})
			}
		}
	case spec.RegionCutover != nil:
		c := spec.RegionCutover
		if !slices.Contains(p.order, c.From) || !slices.Contains(p.order, c.To) {
			return nil, fmt.Errorf("regionCutover: the sandbox has regions %s", strings.Join(p.order, ", "))
		}
		out = append(out, platform.Target{Kind: "region", Name: c.From, Region: c.From})
	default:
		return nil, platform.ErrUnsupported
	}
	return out, nil
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
func (p *Platform) Inject(ctx context.Context, f platform.Fault, t platform.Target) error {
	sup, err := p.started()
	if err != nil {
		return err
	}
	fs := p.state(f)
	p.mu.Lock()
	if fs.injected.IsZero() {
		fs.injected = p.opts.Clock.Now()
	}
	p.mu.Unlock()
	spec := f.Spec
	switch {
	case spec.PodKill != nil:
		var grace time.Duration
		if g := spec.PodKill.GracePeriod; g != nil {
			grace = g.Duration
		}
		if err := sup.Kill(ctx, t.Name, grace); err != nil {
			return err
		}
		p.mu.Lock()
		fs.killed = append(fs.killed, t.Name)
		p.mu.Unlock()
		return nil
	case spec.NodeDrain != nil:
		return p.drain(ctx, sup, f, spec.NodeDrain, t.Name)
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
	fs := p.state(f)
	for i := 0; i < n && len(cands) > 0; i++ {
		j := int(h.Sum32()+uint32(i)) % len(cands) //nolint:gosec // small.
		name := cands[j]
		cands = slices.Delete(cands, j, j+1)
		if err := sup.Kill(ctx, name, 0); err != nil {
			return err
		}
		p.mu.Lock()
		fs.killed = append(fs.killed, name)
		p.mu.Unlock()
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
		fs := p.state(f)
		p.mu.Lock()
		fs.switchedAt = p.opts.Clock.Now()
		fs.notes = append(fs.notes, fmt.Sprintf("traffic switched manually from %s to %s through the front door's control API (the switch took %s)", c.From, c.To, fs.switchedAt.Sub(t0).Round(time.Millisecond)))
		p.mu.Unlock()
	}
	return nil
}

// Revert implements platform.Platform.
func (p *Platform) Revert(ctx context.Context, f platform.Fault, t platform.Target) error {
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

// Recover implements platform.Recoverer. A sandbox dies with the drill
// that ran it, so a crashed run's faults died with it; Recover only makes
// sure no process of a dead sandbox is left behind.
func (p *Platform) Recover(_ context.Context, _ platform.Fault, _ []platform.Target) error {
	_, err := KillLeftovers(p.opts.StateDir)
	return err
}

// KillLeftovers kills the processes of sandboxes under stateDir whose owner
// is gone (a drill killed with SIGKILL normally takes them along through
// the parent-death signal; this is the belt to those braces) and removes
// their stores and node caches, keeping their logs. It returns the pids it
// killed.
func KillLeftovers(stateDir string) ([]int, error) {
	root := filepath.Join(stateDir, "sandbox")
	dirs, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	dead := map[string]bool{}
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		st, err := ReadState(dir)
		if err != nil {
			continue // stopped cleanly: no state file
		}
		if st.Pid > 0 && syscall.Kill(st.Pid, 0) == nil {
			continue // its owner is alive
		}
		dead[dir] = true
	}
	if len(dead) == 0 {
		return nil, nil
	}
	var killed []int
	for _, pid := range SandboxProcesses() {
		if dead[pid.Sandbox] {
			_ = syscall.Kill(-pid.Pid, syscall.SIGKILL)
			_ = syscall.Kill(pid.Pid, syscall.SIGKILL)
			killed = append(killed, pid.Pid)
		}
	}
	for dir := range dead {
		// Keep the logs of the dead sandbox; drop its stores and caches.
		_ = os.RemoveAll(filepath.Join(dir, "nodes"))
		_ = os.RemoveAll(filepath.Join(dir, "stores"))
		_ = os.Remove(filepath.Join(dir, stateFile))
	}
	return killed, nil
}

// SandboxProcess is a live process that belongs to a sandbox.
type SandboxProcess struct {
	Pid     int
	Sandbox string
}

// SandboxProcesses lists the live processes started by any sandbox (they
// carry FIREDRILL_SANDBOX in their environment).
func SandboxProcesses() []SandboxProcess {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []SandboxProcess
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, EnvSandbox+"="); ok {
				out = append(out, SandboxProcess{Pid: pid, Sandbox: v})
				break
			}
		}
	}
	return out
}

// Capacity implements platform.Platform: desired versus ready replicas of
// every region, as workload Region/<name>.
func (p *Platform) Capacity(_ context.Context) ([]slo.CapacityPoint, error) {
	sup, err := p.started()
	if err != nil {
		return nil, nil //nolint:nilerr // nothing to report before Start or after Stop.
	}
	now := p.opts.Clock.Now()
	var out []slo.CapacityPoint
	for _, c := range sup.Capacity() {
		out = append(out, slo.CapacityPoint{At: now, Workload: string(v1alpha1.WorkloadRegion) + "/" + c.Region, Desired: c.Desired, Ready: c.Ready})
	}
	return out, nil
}

// Models implements platform.ModelReporter: the model every ready replica
// serves now.
func (p *Platform) Models(ctx context.Context) ([]slo.ModelObservation, error) {
	sup, err := p.started()
	if err != nil {
		return nil, nil //nolint:nilerr // nothing to report before Start or after Stop.
	}
	var ready []supervisor.Replica
	for _, r := range sup.Replicas() {
		if r.Phase == supervisor.PhaseReady {
			ready = append(ready, r)
		}
	}
	obs := make([]*slo.ModelObservation, len(ready))
	done := make(chan struct{}, len(ready))
	for i, r := range ready {
		go func() {
			defer func() { done <- struct{}{} }()
			mi, err := p.fetchModel(ctx, r.Addr)
			if err != nil {
				return
			}
			p.mu.Lock()
			if _, ok := p.firstModel[r.Name]; !ok {
				p.firstModel[r.Name] = mi
			}
			p.mu.Unlock()
			obs[i] = &slo.ModelObservation{At: p.opts.Clock.Now(), Replica: r.Name, Version: mi.Version, CreatedAt: mi.CreatedAt, Fallback: mi.Degraded || mi.Source == "fallback"}
		}()
	}
	for range ready {
		<-done
	}
	var out []slo.ModelObservation
	for _, o := range obs {
		if o != nil {
			out = append(out, *o)
		}
	}
	return out, nil
}

// Published implements platform.ModelReporter: the model pushed to every
// store at Start.
func (p *Platform) Published(_ context.Context) ([]slo.ModelObservation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.published), nil
}

// Replaced implements platform.ReplacementReporter: when the first
// replacement replica started at or after since.
func (p *Platform) Replaced(_ context.Context, _ platform.Fault, since time.Time) (*time.Time, error) {
	sup, err := p.started()
	if err != nil {
		return nil, nil //nolint:nilerr // nothing to report.
	}
	return sup.Replaced(since), nil
}

// Notes implements platform.Noter.
func (p *Platform) Notes(f platform.Fault) []string {
	p.mu.Lock()
	fs, ok := p.faults[faultKey(f)]
	sup := p.sup
	var st faultState
	if ok {
		st = *fs
		st.notes = slices.Clone(fs.notes)
		st.killed = slices.Clone(fs.killed)
	}
	first := make(map[string]modelInfo, len(p.firstModel))
	for k, v := range p.firstModel {
		first[k] = v
	}
	p.mu.Unlock()
	if !ok || sup == nil {
		return nil
	}
	events := sup.Events(st.injected)
	rel := func(t time.Time) string { return "+" + t.Sub(st.injected).Round(time.Millisecond).String() }
	type timed struct {
		at   time.Time
		line string
	}
	var lines []timed
	// Replacements: when each started and was ready.
	started := map[string]supervisor.Event{}
	for _, e := range events {
		switch e.Type {
		case supervisor.EventStarting:
			if e.Replacement {
				started[e.Replica] = e
			}
		case supervisor.EventReady:
			s, ok := started[e.Replica]
			if !ok {
				continue
			}
			line := fmt.Sprintf("replica %s started on %s at %s and was ready at %s", e.Replica, s.Node, rel(s.At), rel(e.At))
			if f.Spec.ModelStoreOutage != nil || f.Spec.RegionCutover != nil {
				if mi, ok := first[e.Replica]; ok {
					during := st.reverted.IsZero() || s.At.Before(st.reverted)
					switch {
					case mi.Source == "cache" && during:
						line = fmt.Sprintf("replica %s started during the outage from its node-local cache (%s) on %s, ready at %s", e.Replica, mi.Version, s.Node, rel(e.At))
					case (mi.Source == "fallback" || mi.Degraded) && during:
						line = fmt.Sprintf("replica %s started during the outage and served the degraded fallback on %s, ready at %s", e.Replica, s.Node, rel(e.At))
					default:
						line += fmt.Sprintf(", serving %s from its %s", mi.Version, mi.Source)
					}
				}
			}
			lines = append(lines, timed{e.At, line})
		}
	}
	if f.Spec.RegionCutover != nil {
		if fd := p.FrontDoor(); fd != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if fst, err := fd.State(ctx); err == nil {
				for _, sw := range fst.Switches {
					if !sw.At.Before(st.injected) {
						to := sw.To
						if to == "" {
							to = "no region (none healthy)"
						}
						lines = append(lines, timed{sw.At, fmt.Sprintf("front door moved traffic from %s to %s at %s (%s)", sw.From, to, rel(sw.At), sw.Reason)})
					}
				}
			}
		}
	}
	slices.SortStableFunc(lines, func(a, b timed) int { return a.at.Compare(b.at) })
	out := st.notes
	if len(st.killed) > 0 && f.Spec.ModelStoreOutage != nil {
		out = append(out, "killed replica(s) "+strings.Join(st.killed, ", ")+" during the outage so they restart without the store")
	}
	for _, l := range lines {
		out = append(out, l.line)
	}
	return out
}
