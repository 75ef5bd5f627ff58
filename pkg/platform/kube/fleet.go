package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Fleet drills a system spread over several clusters, one per region
// (target.clusters): one Platform per cluster, each with its own
// kubeconfig context, clients and informers. A fault that names a region
// acts in that region's cluster; one that names none acts in every
// cluster. Every target carries its cluster's region in Target.Region,
// which is how Inject, Revert and Recover (from the journal) find its
// cluster. Nodes and workloads without a region label belong to their
// cluster's region.
type Fleet struct {
	members []*member
	clock   clock.PassiveClock
}

// member is one region's cluster of a fleet.
type member struct {
	region string
	p      *Platform
}

var (
	_ platform.Platform            = (*Fleet)(nil)
	_ platform.ReplacementReporter = (*Fleet)(nil)
	_ platform.Noter               = (*Fleet)(nil)
	_ platform.Recoverer           = (*Fleet)(nil)
)

// NewFleet builds a platform per cluster of opts.Spec.Target.Clusters
// from opts, each with the cluster's kubeconfig context. Like New it does
// not contact the clusters. opts.Context and opts.RESTConfig must be
// unset: every cluster names its own context.
func NewFleet(opts Options) (*Fleet, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	clusters := opts.Spec.Target.Clusters
	if len(clusters) == 0 {
		return nil, errors.New("kube fleet: the plan sets no target.clusters")
	}
	if opts.RESTConfig != nil {
		return nil, errors.New("kube fleet: a single REST config cannot reach several clusters")
	}
	opts.defaults() // one clock and action runner for all members
	members := make([]*member, 0, len(clusters))
	for _, c := range clusters {
		o := opts
		o.Context = c.Context
		p, err := New(o)
		if err != nil {
			return nil, fmt.Errorf("cluster of region %s (context %s): %w", c.Region, c.Context, err)
		}
		members = append(members, &member{region: c.Region, p: p})
	}
	return newFleet(members...), nil
}

// newFleet assembles a fleet from platforms; unit tests pass fakes.
func newFleet(members ...*member) *Fleet {
	return &Fleet{members: members, clock: members[0].p.opts.Clock}
}

// Name implements platform.Platform.
func (fl *Fleet) Name() string { return string(v1alpha1.PlatformKubernetes) }

// Start implements platform.Platform: it starts every cluster's platform,
// stopping those started when one fails.
func (fl *Fleet) Start(ctx context.Context) (platform.Info, error) {
	info := platform.Info{Details: map[string]string{}}
	for i, m := range fl.members {
		mi, err := m.p.Start(ctx)
		if err != nil {
			for _, started := range fl.members[:i] {
				_ = started.p.Stop(ctx)
			}
			return platform.Info{}, fmt.Errorf("cluster of region %s: %w", m.region, err)
		}
		for k, v := range mi.Details {
			info.Details[m.region+"."+k] = v
		}
	}
	return info, nil
}

// Stop implements platform.Platform.
func (fl *Fleet) Stop(ctx context.Context) error {
	var errs []error
	for _, m := range fl.members {
		if err := m.p.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", m.region, err))
		}
	}
	return errors.Join(errs...)
}

// member finds the cluster of a region.
func (fl *Fleet) member(region string) (*member, error) {
	for _, m := range fl.members {
		if m.region == region {
			return m, nil
		}
	}
	names := make([]string, 0, len(fl.members))
	for _, m := range fl.members {
		names = append(names, m.region)
	}
	return nil, fmt.Errorf("region %q is not the region of a cluster in target.clusters %v", region, names)
}

// faultRegion is the region a fault acts in, empty when it names none.
func faultRegion(s *v1alpha1.Fault) string {
	switch {
	case s.PodKill != nil:
		return s.PodKill.Region
	case s.NodeDrain != nil:
		return s.NodeDrain.Region
	case s.RegionCutover != nil:
		return s.RegionCutover.From
	case s.ModelStoreOutage != nil:
		return s.ModelStoreOutage.Region
	}
	return ""
}

// localize is f as its region's cluster sees it: the cluster is the
// region, so a region filter (which on one cluster reads node labels
// that a fleet's nodes need not carry) is dropped. A cutover keeps its
// regions; cutoverIn scopes them.
func localize(f platform.Fault) platform.Fault {
	s := f.Spec
	if s.PodKill == nil && s.NodeDrain == nil && s.ModelStoreOutage == nil {
		return f
	}
	s = s.DeepCopy()
	switch {
	case s.PodKill != nil:
		s.PodKill.Region = ""
	case s.NodeDrain != nil:
		s.NodeDrain.Region = ""
	case s.ModelStoreOutage != nil:
		s.ModelStoreOutage.Region = ""
	}
	f.Spec = s
	return f
}

// Targets implements platform.Platform. A region cutover lists the lost
// cluster's nodes or workloads after checking the surviving cluster has
// a schedulable node; a fault naming a region lists that cluster's
// candidates (less nodes and pods labelled with another region); any
// other fault lists every cluster's.
func (fl *Fleet) Targets(ctx context.Context, f platform.Fault) ([]platform.Target, error) {
	if rc := f.Spec.RegionCutover; rc != nil {
		from, err := fl.member(rc.From)
		if err != nil {
			return nil, err
		}
		to, err := fl.member(rc.To)
		if err != nil {
			return nil, err
		}
		if err := to.hasSchedulableNode(ctx); err != nil {
			return nil, err
		}
		return from.p.cutoverTargetsIn(ctx, f, cutoverScope{cluster: from.region})
	}
	members := fl.members
	region := faultRegion(f.Spec)
	if region != "" {
		m, err := fl.member(region)
		if err != nil {
			return nil, err
		}
		members = []*member{m}
	}
	var out []platform.Target
	for _, m := range members {
		ts, err := m.p.Targets(ctx, localize(f))
		if err != nil {
			return nil, fmt.Errorf("cluster of region %s: %w", m.region, err)
		}
		for _, t := range ts {
			if region != "" && m.regionOf(t) != region {
				continue
			}
			t.Region = m.region
			out = append(out, t)
		}
	}
	return out, nil
}

// regionOf is the region of a node or pod target of the member's cluster:
// its node's region label, else the cluster's region.
func (m *member) regionOf(t platform.Target) string {
	switch t.Kind {
	case KindNode:
		return regionOr(t.Labels[LabelRegion], m.region)
	case KindPod:
		return regionOr(t.Region, m.region)
	}
	return m.region
}

// hasSchedulableNode checks the cluster can take over a region.
func (m *member) hasSchedulableNode(ctx context.Context) error {
	nodes, err := m.p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes of the cluster of region %s: %w", m.region, err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if !n.Spec.Unschedulable && regionOr(regionOfNode(n), m.region) == m.region {
			return nil
		}
	}
	return fmt.Errorf("the cluster of region %s has no schedulable node to take over", m.region)
}

// targetMember finds the cluster of a target by its region.
func (fl *Fleet) targetMember(t platform.Target) (*member, error) {
	m, err := fl.member(t.Region)
	if err != nil {
		return nil, fmt.Errorf("target %s/%s: %w", t.Kind, t.Name, err)
	}
	return m, nil
}

// Inject implements platform.Platform in the target's cluster. A region
// cutover runs its switch once, in the lost cluster, after its last
// target.
func (fl *Fleet) Inject(ctx context.Context, f platform.Fault, t platform.Target) error {
	m, err := fl.targetMember(t)
	if err != nil {
		return err
	}
	if f.Spec.RegionCutover != nil {
		m.p.state(f.ID)
		log.FromContext(ctx).Info("injecting", "step", f.ID, "region", m.region, "target", t.Kind+"/"+t.Name)
		return m.p.cutoverIn(ctx, f, t, cutoverScope{cluster: m.region})
	}
	return m.p.Inject(ctx, localize(f), t)
}

// Revert implements platform.Platform in the target's cluster; a region
// cutover fails traffic back once its cluster has no marked object left.
func (fl *Fleet) Revert(ctx context.Context, f platform.Fault, t platform.Target) error {
	m, err := fl.targetMember(t)
	if err != nil {
		return err
	}
	return m.p.Revert(ctx, localize(f), t)
}

// Recover implements platform.Recoverer: every cluster the fault may have
// touched (the lost cluster of a cutover, the cluster of a fault naming a
// region, else all, plus any that a journaled target names) recovers the
// fault from its marks and its journaled targets.
func (fl *Fleet) Recover(ctx context.Context, f platform.Fault, targets []platform.Target) error {
	regions := map[string]bool{}
	switch r := faultRegion(f.Spec); {
	case r != "":
		regions[r] = true
	default:
		for _, m := range fl.members {
			regions[m.region] = true
		}
	}
	for _, t := range targets {
		regions[t.Region] = true
	}
	var errs []error
	for _, m := range fl.members {
		if !regions[m.region] {
			continue
		}
		var mine []platform.Target
		for _, t := range targets {
			if t.Region == m.region {
				mine = append(mine, t)
			}
		}
		if err := m.p.Recover(ctx, localize(f), mine); err != nil {
			errs = append(errs, fmt.Errorf("cluster of region %s: %w", m.region, err))
		}
		delete(regions, m.region)
	}
	for r := range regions {
		errs = append(errs, fmt.Errorf("journaled targets name region %q, which is no cluster of target.clusters", r))
	}
	return errors.Join(errs...)
}

// Capacity implements platform.Platform: every cluster's watched
// workloads, named <region>/<Kind>/<namespace>/<name>. A workload that
// exists in some clusters only is reported where it exists; one found in
// no cluster is an error.
func (fl *Fleet) Capacity(context.Context) ([]slo.CapacityPoint, error) {
	now := fl.clock.Now()
	var out []slo.CapacityPoint
	found, missing := map[string]bool{}, map[string]bool{}
	var errs []string
	for _, m := range fl.members {
		m.p.mu.Lock()
		w := m.p.watch
		m.p.mu.Unlock()
		if w == nil {
			return nil, fmt.Errorf("cluster of region %s: %w", m.region, errNotStarted)
		}
		points, absent, err := w.capacityPresent(now, m.region+"/")
		if err != nil {
			errs = append(errs, fmt.Sprintf("cluster of region %s: %s", m.region, err))
		}
		out = append(out, points...)
		for _, pt := range points {
			found[strings.TrimPrefix(pt.Workload, m.region+"/")] = true
		}
		for _, name := range absent {
			missing[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		if !found[name] {
			errs = append(errs, name+" not found in any cluster")
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("capacity: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// capacityPresent is capacity for the watched workloads that exist, with
// names prefixed by prefix, and the names of those that do not.
func (w *watcher) capacityPresent(now time.Time, prefix string) ([]slo.CapacityPoint, []string, error) {
	var out []slo.CapacityPoint
	var missing, errs []string
	for _, r := range w.workloads {
		r = w.ref(r)
		f, ok := w.perNS[r.Namespace]
		if !ok {
			errs = append(errs, fmt.Sprintf("namespace %s is not watched", r.Namespace))
			continue
		}
		var meta metav1.Object
		var desired, ready int32
		var err error
		switch r.Kind {
		case v1alpha1.WorkloadDeployment:
			d, gerr := f.Apps().V1().Deployments().Lister().Deployments(r.Namespace).Get(r.Name)
			if err = gerr; err == nil {
				meta, desired, ready = d, replicasOf(d.Spec.Replicas), d.Status.ReadyReplicas
			}
		case v1alpha1.WorkloadStatefulSet:
			s, gerr := f.Apps().V1().StatefulSets().Lister().StatefulSets(r.Namespace).Get(r.Name)
			if err = gerr; err == nil {
				meta, desired, ready = s, replicasOf(s.Spec.Replicas), s.Status.ReadyReplicas
			}
		default:
			errs = append(errs, fmt.Sprintf("workload kind %s is not watched on kubernetes", r.Kind))
			continue
		}
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, workloadName(r))
			continue
		case err != nil:
			errs = append(errs, describeGetError(r, err))
			continue
		}
		if prior, err := priorReplicas(meta.GetAnnotations()); err == nil {
			desired = prior
		}
		out = append(out, slo.CapacityPoint{At: now, Workload: prefix + workloadName(r), Desired: int(desired), Ready: int(ready)})
	}
	if len(errs) > 0 {
		return out, missing, errors.New(strings.Join(errs, "; "))
	}
	return out, missing, nil
}

// Replaced implements platform.ReplacementReporter: the earliest
// replacement in any cluster.
func (fl *Fleet) Replaced(ctx context.Context, f platform.Fault, since time.Time) (*time.Time, error) {
	var first *time.Time
	for _, m := range fl.members {
		t, err := m.p.Replaced(ctx, f, since)
		if err != nil {
			return nil, fmt.Errorf("cluster of region %s: %w", m.region, err)
		}
		if t != nil && (first == nil || t.Before(*first)) {
			first = t
		}
	}
	return first, nil
}

// Notes implements platform.Noter: every cluster's notes about f, each
// prefixed with its region.
func (fl *Fleet) Notes(f platform.Fault) []string {
	var out []string
	for _, m := range fl.members {
		for _, n := range m.p.Notes(f) {
			out = append(out, "["+m.region+"] "+n)
		}
	}
	return out
}
