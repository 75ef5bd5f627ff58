package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
)

// Labels of a region target: what a cutover of the region would take down
// and how it would move traffic, read live, so a dry run (which prints
// targets) shows them. Names are comma-separated.
const (
	// LabelCutoverMethod is drain or scaleToZero.
	LabelCutoverMethod = "firedrill.dev/method"
	// LabelCutoverNodes are the nodes a drain cutover cordons.
	LabelCutoverNodes = "firedrill.dev/nodes"
	// LabelCutoverWorkloads are the Kind/namespace/name of the workloads
	// a scaleToZero cutover scales to zero.
	LabelCutoverWorkloads = "firedrill.dev/workloads"
	// LabelCutoverTraffic is how traffic moves: "auto", or "manual: " and
	// the switch ("Service recsys/frontdoor selector region").
	LabelCutoverTraffic = "firedrill.dev/traffic"
)

// Targets implements platform.Platform. It reads the cluster live, so a
// dry run shows what a run would touch now. A region cutover has one
// target, the region.
func (p *Platform) Targets(ctx context.Context, f platform.Fault) ([]evidence.Target, error) {
	f = p.localize(f)
	ts, err := p.targets(ctx, f)
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

func (p *Platform) targets(ctx context.Context, f platform.Fault) ([]evidence.Target, error) {
	s := f.Spec
	d := p.deps(p.scope)
	switch {
	case s.PodKill != nil:
		pk := s.PodKill
		ns := pk.Namespace
		if ns == "" {
			ns = p.scope.namespace
		}
		if err := objects.NamespaceAllowed(p.scope.allowed, ns); err != nil {
			return nil, err
		}
		sel, err := objects.SelectorOf(pk.Selector)
		if err != nil {
			return nil, err
		}
		return pods.Candidates(ctx, p.c, ns, objects.PodFilter{Selector: sel, Region: pk.Region, GPUOnly: pk.GPUOnly, Scope: p.scope.cluster})
	case s.NodeDrain != nil:
		nd := s.NodeDrain
		sel, err := objects.SelectorOf(nd.Selector)
		if err != nil {
			return nil, err
		}
		return nodes.Candidates(ctx, p.c, objects.NodeFilter{Selector: sel, Region: nd.Region, GPUOnly: nd.GPUOnly, Scope: p.scope.cluster}, p.markOf(f))
	case s.GPUFailure != nil:
		g := s.GPUFailure
		sel, err := objects.SelectorOf(g.Selector)
		if err != nil {
			return nil, err
		}
		return d.gpu.Candidates(ctx, objects.NodeFilter{Selector: sel, Region: g.Region, GPUOnly: true, Scope: p.scope.cluster}, gpu.SettingsOf(g), p.markOf(f))
	case s.RegionCutover != nil:
		t, err := p.regionTarget(ctx, f)
		if err != nil {
			return nil, err
		}
		return []evidence.Target{t}, nil
	case s.ModelStoreOutage != nil:
		ref, err := d.outage.StoreRef()
		if err != nil {
			return nil, err
		}
		if err := d.outage.CheckMode(s.ModelStoreOutage); err != nil {
			return nil, err
		}
		return []evidence.Target{{Kind: evidence.KindStore, Name: objects.WorkloadName(ref), Region: s.ModelStoreOutage.Region}}, nil
	case s.ChaosMesh != nil:
		if err := chaos.Check(p.disco, s.ChaosMesh.Kind); err != nil {
			return nil, err
		}
		name := chaos.TargetName(s.ChaosMesh.Kind, p.scope.namespace, objects.ObjectName(f.RunID, f.ID))
		return []evidence.Target{{Kind: evidence.KindChaos, Name: name}}, nil
	}
	return nil, fmt.Errorf("step %s: %w", f.ID, platform.ErrUnsupported)
}

// regionTarget checks a cutover can run and returns its one target, the
// lost region, labelled with what a cutover would take down (read live).
// A switch that cannot work, a surviving region that cannot take over and
// a lost region with nothing to take down fail before anything is touched.
func (p *Platform) regionTarget(ctx context.Context, f platform.Fault) (evidence.Target, error) {
	rc := f.Spec.RegionCutover
	d := p.deps(p.scope)
	if rc.From == rc.To {
		return evidence.Target{}, fmt.Errorf("region cutover from %s to itself", rc.From)
	}
	traffic := "auto"
	if rc.Traffic == v1alpha1.TrafficManual {
		if rc.Switch == nil {
			return evidence.Target{}, errors.New("region cutover with manual traffic needs a switch action")
		}
		if err := d.switcher.Check(ctx, rc, p.markOf(f)); err != nil {
			return evidence.Target{}, err
		}
		traffic = "manual: " + d.switcher.Describe(rc.Switch)
	}
	if c := p.scope.cluster.Cluster; c == "" || rc.To == c {
		if err := d.checker.Survivor(ctx, rc.To); err != nil {
			return evidence.Target{}, err
		}
	}
	members, err := d.cutover.Members(ctx, p.region(f))
	if err != nil {
		return evidence.Target{}, err
	}
	method := rc.Method
	if method == "" {
		method = v1alpha1.CutoverDrain
	}
	lbls := map[string]string{LabelCutoverMethod: string(method), LabelCutoverTraffic: traffic}
	switch {
	case method == v1alpha1.CutoverScaleToZero && len(members.Workloads) == 0:
		return evidence.Target{}, fmt.Errorf("region %s has no Deployment or StatefulSet with replicas in %v to scale to zero", rc.From, p.scope.allowed)
	case method == v1alpha1.CutoverScaleToZero:
		lbls[LabelCutoverWorkloads] = strings.Join(members.Workloads, ",")
	case len(members.Nodes) == 0:
		return evidence.Target{}, fmt.Errorf("region %s has no schedulable node (label %s) to take down", rc.From, objects.LabelRegion)
	default:
		lbls[LabelCutoverNodes] = strings.Join(members.Nodes, ",")
	}
	return evidence.Target{Kind: evidence.KindRegion, Name: rc.From, Region: rc.From, Labels: lbls}, nil
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
