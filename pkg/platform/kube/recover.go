package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

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
	out, err := p.deps(sc).recovery.Marked(ctx, namespaces, f)
	if err != nil {
		return nil, err
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

// revertOne reverts one target without the traffic fail-back. f.Spec is
// nil for RecoverOrphans, which reverts each object from its marks. A
// region is restored from what this process remembers of the cutover and
// the marks; every other kind from the marks alone (package recovery).
func (p *Platform) revertOne(ctx context.Context, f platform.Fault, t evidence.Target) error {
	m := p.markOf(f)
	d := p.deps(p.scope)
	if t.Kind == evidence.KindRegion {
		if f.Spec == nil || f.Spec.RegionCutover == nil {
			return fmt.Errorf("target %s: the cutover's spec is unknown", t)
		}
		st, _ := p.log.State(f.ID)
		return d.cutover.Restore(ctx, p.region(f), st.Region())
	}
	return d.recovery.Revert(ctx, f.Spec, t, m)
}
