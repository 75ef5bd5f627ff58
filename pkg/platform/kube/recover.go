package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// markedKind is one kind of object firedrill marks: list finds the marked
// objects of namespaces ("" is every namespace; nodes are cluster-wide),
// and revertOne undoes a fault on the targets it returns. To teach recovery
// a new kind, add it to markedKinds and revertOne.
type markedKind struct {
	name string
	list func(ctx context.Context, p *Platform, d deps, namespaces []string, f marks.Filter) ([]MarkedObject, error)
}

// markedKinds are the kinds Marked looks at, in the order recovery visits
// them: a region's nodes and workloads before the traffic switch.
func markedKinds() []markedKind {
	return []markedKind{
		{name: "nodes", list: func(ctx context.Context, p *Platform, _ deps, _ []string, f marks.Filter) ([]MarkedObject, error) {
			return nodes.Marked(ctx, p.c, f)
		}},
		{name: "workloads", list: func(ctx context.Context, p *Platform, _ deps, namespaces []string, f marks.Filter) ([]MarkedObject, error) {
			return workloads.Marked(ctx, p.c, namespaces, f)
		}},
		{name: "networkpolicies", list: func(ctx context.Context, _ *Platform, d deps, _ []string, f marks.Filter) ([]MarkedObject, error) {
			return d.outage.Marked(ctx, f)
		}},
		{name: "chaos mesh objects", list: func(ctx context.Context, _ *Platform, d deps, namespaces []string, f marks.Filter) ([]MarkedObject, error) {
			return d.chaos.Marked(ctx, namespaces, f)
		}},
		{name: "traffic switch objects", list: func(ctx context.Context, p *Platform, _ deps, namespaces []string, f marks.Filter) ([]MarkedObject, error) {
			return traffic.Marked(ctx, p.c, namespaces, f)
		}},
	}
}

// Marked lists the nodes, Deployments, StatefulSets, Services and
// HTTPRoutes that carry marks and the NetworkPolicies and Chaos Mesh
// objects firedrill created. Empty runID or faultID match any. Namespaced
// objects are looked for in the namespaces the platform watches. It reads
// the cluster live and needs no Start.
func (p *Platform) Marked(ctx context.Context, runID, faultID string) ([]MarkedObject, error) {
	return p.marked(ctx, p.scope.watched, marks.Filter{RunID: runID, FaultID: faultID})
}

// marked is Marked in namespaces ("" is every namespace).
func (p *Platform) marked(ctx context.Context, namespaces []string, f marks.Filter) ([]MarkedObject, error) {
	sc := p.scope
	sc.watched, sc.allowed = namespaces, namespaces
	d := p.deps(sc)
	var out []MarkedObject
	for _, k := range markedKinds() {
		found, err := k.list(ctx, p, d, namespaces, f)
		if err != nil {
			return nil, fmt.Errorf("finding marked %s: %w", k.name, err)
		}
		out = append(out, found...)
	}
	if c := p.scope.cluster.Cluster; c != "" {
		for i := range out {
			out[i].Target.Region = c
		}
	}
	return out, nil
}

// Recover implements platform.Platform: it reverts a fault a dead run
// left in effect, on the journaled targets and on every object that still
// carries the fault's marks, so an object marked just before the crash is
// found even when the journal is incomplete. A region target restores
// every node and workload the fault holds; a manual cutover then fails
// traffic back. It needs no Start: it reads the cluster live.
func (p *Platform) Recover(ctx context.Context, f platform.Fault, targets []evidence.Target) error {
	f = p.localize(f)
	logger := log.FromContext(ctx).With("run", f.RunID, "step", f.ID)
	marked, err := p.Marked(ctx, f.RunID, f.ID)
	if err != nil {
		return err
	}
	all := slices.Clone(targets)
	region := slices.ContainsFunc(targets, func(t evidence.Target) bool { return t.Kind == evidence.KindRegion })
	for _, mo := range marked {
		t := mo.Target
		if region && (t.Kind == evidence.KindNode || t.Kind == marks.KindWorkload) {
			continue // the region target restores them all
		}
		// A store shows up as a workload: same object, same revert.
		if !slices.ContainsFunc(all, func(o evidence.Target) bool { return o.Name == t.Name }) {
			all = append(all, t)
		}
	}
	var errs []error
	for _, t := range all {
		logger.Info("recovering", "target", t.String())
		if err := p.revertOne(ctx, f, t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
		}
	}
	if len(errs) == 0 && f.Spec != nil && f.Spec.RegionCutover != nil {
		t := evidence.Target{Kind: evidence.KindRegion, Name: f.Spec.RegionCutover.From, Region: f.Spec.RegionCutover.From}
		if err := p.failBack(ctx, f, t, true); err != nil {
			errs = append(errs, err)
		}
	}
	// The run is dead: its heartbeat proves nothing any more. Marks left
	// by a failed revert are then judged dead by their missing heartbeat.
	if err := p.hb.ForgetDead(ctx, f.RunID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// revertNode restores a node fault m failed or cordoned, from the node's
// own marks: a GPU failure's record restores its GPUs and its taint, and
// any other mark is a cordon. Without the spec (RecoverOrphans) the
// record alone says which.
func (p *Platform) revertNode(ctx context.Context, f platform.Fault, name string, m marks.Mark) error {
	if f.Spec != nil && f.Spec.GPUFailure == nil {
		return nodes.Uncordon(ctx, p.c, name, nil, m)
	}
	restored, err := gpu.Restore(ctx, p.c, name, m)
	if err != nil || restored || f.Spec != nil {
		return err
	}
	return nodes.Uncordon(ctx, p.c, name, nil, m)
}

// revertOne reverts one target without the traffic fail-back. f.Spec is
// nil for RecoverOrphans, which reverts each object from its marks.
func (p *Platform) revertOne(ctx context.Context, f platform.Fault, t evidence.Target) error {
	m := p.markOf(f)
	d := p.deps(p.scope)
	switch t.Kind {
	case evidence.KindPod:
		return nil // the workload's controller replaced it
	case evidence.KindNode:
		return p.revertNode(ctx, f, t.Name, m)
	case evidence.KindRegion:
		if f.Spec == nil || f.Spec.RegionCutover == nil {
			return fmt.Errorf("target %s: the cutover's spec is unknown", t)
		}
		st, _ := p.state(f.ID)
		return d.cutover.Restore(ctx, p.region(f), &st.region)
	case marks.KindWorkload:
		ref, err := objects.ParseWorkload(t.Name)
		if err != nil {
			return err
		}
		return workloads.RestoreScale(ctx, p.c, ref, m)
	case evidence.KindStore:
		ref, err := objects.ParseWorkload(t.Name)
		if err != nil {
			return err
		}
		if f.Spec == nil {
			return d.outage.Revert(ctx, nil, ref, m)
		}
		return d.outage.Revert(ctx, f.Spec.ModelStoreOutage, ref, m)
	case evidence.KindChaos:
		return d.chaos.Delete(ctx, t.Name)
	case marks.KindNetworkPolicy:
		return d.outage.DeleteNetpol(ctx, t.Name)
	case marks.KindService, marks.KindHTTPRoute:
		return d.switcher.Restore(ctx, t, m)
	}
	return fmt.Errorf("target %s: %w", t, platform.ErrUnsupported)
}
