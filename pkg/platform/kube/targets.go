package kube

import (
	"context"
	"fmt"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/targets"
)

// Labels of a region target: what a cutover of the region would take down
// and how it would move traffic, read live, so a dry run (which prints
// targets) shows them. Names are comma-separated.
const (
	// LabelCutoverMethod is drain or scaleToZero.
	LabelCutoverMethod = targets.LabelCutoverMethod
	// LabelCutoverNodes are the nodes a drain cutover cordons.
	LabelCutoverNodes = targets.LabelCutoverNodes
	// LabelCutoverWorkloads are the Kind/namespace/name of the workloads
	// a scaleToZero cutover scales to zero.
	LabelCutoverWorkloads = targets.LabelCutoverWorkloads
	// LabelCutoverTraffic is how traffic moves: "auto", or "manual: " and
	// the switch ("Service recsys/frontdoor selector region").
	LabelCutoverTraffic = targets.LabelCutoverTraffic
)

// Targets implements platform.Platform. It reads the cluster live, so a
// dry run shows what a run would touch now. A region cutover has one
// target, the region (package targets).
func (p *Platform) Targets(ctx context.Context, f platform.Fault) ([]evidence.Target, error) {
	f = p.localize(f)
	ts, err := p.deps(p.scope).targets.Targets(ctx, f, p.markOf(f))
	if err != nil {
		return nil, err
	}
	if c := p.scope.cluster.Cluster; c != "" {
		for i := range ts {
			ts[i].Region = c // how a fleet finds the target's cluster
		}
	}
	return ts, nil
}

// region is the lost region of cutover f in this platform's scope.
func (p *Platform) region(f platform.Fault) region.Region {
	return region.Region{Cutover: f.Spec.RegionCutover, Scope: p.scope.cluster, Mark: p.markOf(f)}
}

// localize is f as a cluster of a fleet sees it: the cluster is the
// region, so a store outage naming the cluster's region acts on the
// cluster's store wherever its pods run (the cluster's nodes need not
// carry its label, which a NetworkChaos would select them by). Pod kills
// and drains keep their region: their filters read an unlabelled node as
// the cluster's region and leave out nodes labelled with another.
func (p *Platform) localize(f platform.Fault) platform.Fault {
	c := p.scope.cluster.Cluster
	s := f.Spec
	if c == "" || s == nil || s.ModelStoreOutage == nil || s.ModelStoreOutage.Region != c {
		return f
	}
	s = s.DeepCopy()
	s.ModelStoreOutage.Region = ""
	f.Spec = s
	return f
}

// StoreOutageObjects lists what a model store outage creates or changes,
// for dry runs: the store workload it scales (scaleToZero), the
// NetworkPolicies it creates, or its NetworkChaos. It reads the cluster
// live, as Targets does.
func (p *Platform) StoreOutageObjects(ctx context.Context, f platform.Fault) ([]string, error) {
	f = p.localize(f)
	o := f.Spec.ModelStoreOutage
	if o == nil {
		return nil, fmt.Errorf("step %s is not a model store outage", f.ID)
	}
	return p.deps(p.scope).outage.Objects(ctx, o, p.markOf(f))
}
