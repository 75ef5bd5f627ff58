package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Member is one cluster's platform, scoped to its region: every target it
// returns carries the region, and nodes and workloads without a region
// label are the region's.
type Member interface {
	platform.Platform
	// CanTakeOver checks the cluster has a schedulable node to take over
	// a lost region.
	CanTakeOver(ctx context.Context) error
	// CapacityPresent is Capacity for the watched workloads that exist in
	// the cluster, named <region>/<Kind>/<namespace>/<name>, with the
	// names (without region) of those that do not. Before Start it reads
	// the cluster live.
	CapacityPresent(ctx context.Context) ([]evidence.CapacityPoint, []string, error)
}

// Cluster is one region's cluster of a fleet.
type Cluster struct {
	// Region is the region the cluster is.
	Region string
	// Member is its platform.
	Member Member
}

// Fleet drills a system spread over several clusters, one per region
// (target.clusters). A fault that names a region acts in that region's
// cluster; one that names none acts in every cluster. Every target carries
// its cluster's region in Target.Region, which is how Inject, Revert and
// Recover (from the journal) find its cluster.
type Fleet struct {
	clusters []Cluster
	clock    clock.PassiveClock

	mu      sync.Mutex
	started bool
}

var _ platform.Platform = (*Fleet)(nil)

// New assembles a fleet; clk stamps its capacity points.
func New(clk clock.PassiveClock, clusters ...Cluster) *Fleet {
	return &Fleet{clusters: clusters, clock: clk}
}

// Name implements platform.Platform.
func (fl *Fleet) Name() string { return string(v1alpha1.PlatformKubernetes) }

// cluster finds the cluster of a region.
func (fl *Fleet) cluster(region string) (Cluster, error) {
	for _, c := range fl.clusters {
		if c.Region == region {
			return c, nil
		}
	}
	names := make([]string, 0, len(fl.clusters))
	for _, c := range fl.clusters {
		names = append(names, c.Region)
	}
	return Cluster{}, fmt.Errorf("region %q is not the region of a cluster in target.clusters %v", region, names)
}

// FaultRegion is the region a fault acts in, empty when it names none.
func FaultRegion(s *v1alpha1.Fault) string {
	switch {
	case s.PodKill != nil:
		return s.PodKill.Region
	case s.NodeDrain != nil:
		return s.NodeDrain.Region
	case s.GPUFailure != nil:
		return s.GPUFailure.Region
	case s.RegionCutover != nil:
		return s.RegionCutover.From
	case s.ModelStoreOutage != nil:
		return s.ModelStoreOutage.Region
	}
	return ""
}

// Preflight implements platform.Platform: every cluster checks the faults
// that act in it, every region a fault names is a cluster's, and every
// watched workload exists in some cluster.
func (fl *Fleet) Preflight(ctx context.Context, spec *v1alpha1.DrillPlanSpec) error {
	var errs []error
	for _, c := range fl.clusters {
		if err := c.Member.Preflight(ctx, spec); err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", c.Region, err))
		}
	}
	for _, st := range spec.Steps {
		if st.Fault == nil {
			continue
		}
		regions := []string{FaultRegion(st.Fault)}
		if rc := st.Fault.RegionCutover; rc != nil {
			regions = append(regions, rc.To)
		}
		for _, r := range regions {
			if r == "" {
				continue
			}
			if _, err := fl.cluster(r); err != nil {
				errs = append(errs, fmt.Errorf("step %s: %w", st.Name, err))
			}
		}
	}
	_, nowhere, err := fl.capacity(ctx)
	switch {
	case err != nil && len(errs) == 0:
		errs = append(errs, err) // otherwise the clusters said what is wrong
	case err == nil && len(nowhere) > 0:
		errs = append(errs, fmt.Errorf("system.workloads: %s not found in any cluster", strings.Join(nowhere, ", ")))
	}
	return errors.Join(errs...)
}

// Start implements platform.Platform: it starts every cluster's platform,
// stopping those started when one fails. Each cluster's events go to rec,
// notes and traffic switches prefixed with its region ("[us-east] ...").
func (fl *Fleet) Start(ctx context.Context, rec evidence.Recorder) (platform.Info, error) {
	if rec == nil {
		rec = evidence.Discard
	}
	info := platform.Info{Details: map[string]string{}}
	for i, c := range fl.clusters {
		ci, err := c.Member.Start(ctx, ForRegion(c.Region, rec))
		if err != nil {
			for _, started := range fl.clusters[:i] {
				_ = started.Member.Stop(ctx)
			}
			return platform.Info{}, fmt.Errorf("cluster of region %s: %w", c.Region, err)
		}
		for k, v := range ci.Details {
			info.Details[c.Region+"."+k] = v
		}
	}
	fl.mu.Lock()
	fl.started = true
	fl.mu.Unlock()
	return info, nil
}

// ForRegion is the recorder of the cluster of region: it forwards the
// cluster's events to rec, its notes and traffic switches prefixed with
// the region ("[us-east] traffic switched ...").
func ForRegion(region string, rec evidence.Recorder) evidence.Recorder {
	return prefixed{region: region, rec: rec}
}

// prefixed forwards a cluster's events, saying which cluster they are from.
type prefixed struct {
	region string
	rec    evidence.Recorder
}

// Record implements evidence.Recorder.
func (p prefixed) Record(ev evidence.Event) {
	if ev.Type == evidence.EventNote || ev.Type == evidence.EventTrafficSwitched {
		ev.Message = "[" + p.region + "] " + ev.Message
	}
	p.rec.Record(ev)
}

// Stop implements platform.Platform.
func (fl *Fleet) Stop(ctx context.Context) error {
	fl.mu.Lock()
	fl.started = false
	fl.mu.Unlock()
	var errs []error
	for _, c := range fl.clusters {
		if err := c.Member.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", c.Region, err))
		}
	}
	return errors.Join(errs...)
}

// Targets implements platform.Platform. A region cutover's target is the
// lost cluster's region, after checking the surviving cluster has a
// schedulable node; a fault naming a region lists that cluster's
// candidates; any other fault lists every cluster's.
func (fl *Fleet) Targets(ctx context.Context, f platform.Fault) ([]evidence.Target, error) {
	if rc := f.Spec.RegionCutover; rc != nil {
		from, err := fl.cluster(rc.From)
		if err != nil {
			return nil, err
		}
		to, err := fl.cluster(rc.To)
		if err != nil {
			return nil, err
		}
		if err := to.Member.CanTakeOver(ctx); err != nil {
			return nil, err
		}
		return from.Member.Targets(ctx, f)
	}
	clusters := fl.clusters
	if region := FaultRegion(f.Spec); region != "" {
		c, err := fl.cluster(region)
		if err != nil {
			return nil, err
		}
		clusters = []Cluster{c}
	}
	var out []evidence.Target
	for _, c := range clusters {
		ts, err := c.Member.Targets(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("cluster of region %s: %w", c.Region, err)
		}
		out = append(out, ts...)
	}
	return out, nil
}

// targetCluster finds the cluster of a target by its region.
func (fl *Fleet) targetCluster(t evidence.Target) (Cluster, error) {
	c, err := fl.cluster(t.Region)
	if err != nil {
		return Cluster{}, fmt.Errorf("target %s: %w", t, err)
	}
	return c, nil
}

// Inject implements platform.Platform in the target's cluster.
func (fl *Fleet) Inject(ctx context.Context, f platform.Fault, t evidence.Target) error {
	c, err := fl.targetCluster(t)
	if err != nil {
		return err
	}
	return c.Member.Inject(ctx, f, t)
}

// Revert implements platform.Platform in the target's cluster.
func (fl *Fleet) Revert(ctx context.Context, f platform.Fault, t evidence.Target) error {
	c, err := fl.targetCluster(t)
	if err != nil {
		return err
	}
	return c.Member.Revert(ctx, f, t)
}

// Recover implements platform.Platform: every cluster the fault may have
// touched (the lost cluster of a cutover, the cluster of a fault naming a
// region, else all, plus any a journaled target names) recovers the fault
// from its marks and its journaled targets.
func (fl *Fleet) Recover(ctx context.Context, f platform.Fault, targets []evidence.Target) error {
	regions := map[string]bool{}
	if r := FaultRegion(f.Spec); r != "" {
		regions[r] = true
	} else {
		for _, c := range fl.clusters {
			regions[c.Region] = true
		}
	}
	for _, t := range targets {
		regions[t.Region] = true
	}
	var errs []error
	for _, c := range fl.clusters {
		if !regions[c.Region] {
			continue
		}
		var mine []evidence.Target
		for _, t := range targets {
			if t.Region == c.Region {
				mine = append(mine, t)
			}
		}
		if err := c.Member.Recover(ctx, f, mine); err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", c.Region, err))
		}
		delete(regions, c.Region)
	}
	for _, r := range slices.Sorted(maps.Keys(regions)) {
		errs = append(errs, fmt.Errorf("journaled targets name region %q, which is no cluster of target.clusters", r))
	}
	return errors.Join(errs...)
}

// Clusters implements platform.Platform: every member's cluster.
func (fl *Fleet) Clusters() []evidence.Cluster {
	var out []evidence.Cluster
	for _, c := range fl.clusters {
		out = append(out, c.Member.Clusters()...)
	}
	return out
}

// errNotStarted is returned by Capacity before Start.
var errNotStarted = errors.New("kube fleet not started")

// Capacity implements platform.Platform: every cluster's watched
// workloads, named <region>/<Kind>/<namespace>/<name>. A workload that
// exists in some clusters only is reported where it exists; one found in
// no cluster is an error.
func (fl *Fleet) Capacity(ctx context.Context) ([]evidence.CapacityPoint, error) {
	fl.mu.Lock()
	started := fl.started
	fl.mu.Unlock()
	if !started {
		return nil, errNotStarted
	}
	out, nowhere, err := fl.capacity(ctx)
	var errs []string
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, name := range nowhere {
		errs = append(errs, name+" not found in any cluster")
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("capacity: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// capacity merges the clusters' capacity and lists the watched workloads
// found in no cluster.
func (fl *Fleet) capacity(ctx context.Context) ([]evidence.CapacityPoint, []string, error) {
	var out []evidence.CapacityPoint
	found, missing := map[string]bool{}, map[string]bool{}
	var errs []error
	for _, c := range fl.clusters {
		points, absent, err := c.Member.CapacityPresent(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", c.Region, err))
		}
		out = append(out, points...)
		for _, pt := range points {
			found[strings.TrimPrefix(pt.Workload, c.Region+"/")] = true
		}
		for _, name := range absent {
			missing[name] = true
		}
	}
	var nowhere []string
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		if !found[name] {
			nowhere = append(nowhere, name)
		}
	}
	return out, nowhere, errors.Join(errs...)
}
