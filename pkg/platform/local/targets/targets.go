package targets

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// Topology is the sandbox as the plan lays it out: its regions with their
// simulated nodes, in the plan's order.
type Topology struct {
	// Regions are the regions and their nodes.
	Regions []supervisor.Region
	// Order are the region names in the plan's order.
	Order []string
}

// replicas returns the running replicas of sup, or the planned initial
// ones before Start (sup is nil: dry runs).
func (t Topology) replicas(sup *supervisor.Supervisor) []supervisor.Replica {
	if sup != nil {
		var out []supervisor.Replica
		for _, r := range sup.Replicas() {
			if r.Phase != supervisor.PhaseTerminating && r.Phase != supervisor.PhasePending && !r.Evicting {
				out = append(out, r)
			}
		}
		return out
	}
	return supervisor.InitialPlacement(t.Regions)
}

// Targets are the targets of f in the sandbox: the replicas sup runs and
// the nodes it has not cordoned, or before Start (sup is nil) the planned
// ones.
func (t Topology) Targets(f platform.Fault, sup *supervisor.Supervisor) ([]evidence.Target, error) {
	spec := f.Spec
	var out []evidence.Target
	switch {
	case spec.PodKill != nil:
		k := spec.PodKill
		for _, r := range t.replicas(sup) {
			if (k.Region != "" && r.Region != k.Region) || (k.GPUOnly && !r.GPU) {
				continue
			}
			ok, err := matches(k.Selector, r.Labels)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, evidence.Target{Kind: evidence.KindPod, Name: r.Name, Region: r.Region, Labels: r.Labels})
			}
		}
	case spec.NodeDrain != nil:
		d := spec.NodeDrain
		var cordoned map[string]bool
		if sup != nil {
			_, cordoned = sup.Nodes()
		}
		for _, reg := range t.Regions {
			for _, n := range reg.Nodes {
				if (d.Region != "" && n.Region != d.Region) || (d.GPUOnly && !n.GPU) || cordoned[n.Name] {
					continue
				}
				ok, err := matches(d.Selector, n.Labels)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: n.Region, Labels: n.Labels})
				}
			}
		}
	case spec.GPUFailure != nil:
		return t.gpuTargets(spec.GPUFailure, sup)
	case spec.ModelStoreOutage != nil:
		for _, r := range t.Order {
			if o := spec.ModelStoreOutage; o.Region == "" || o.Region == r {
				out = append(out, evidence.Target{Kind: evidence.KindStore, Name: "store-" + r, Region: r})
			}
		}
	case spec.RegionCutover != nil:
		c := spec.RegionCutover
		if !slices.Contains(t.Order, c.From) || !slices.Contains(t.Order, c.To) {
			return nil, fmt.Errorf("regionCutover: the sandbox has regions %s", strings.Join(t.Order, ", "))
		}
		out = append(out, evidence.Target{Kind: evidence.KindRegion, Name: c.From, Region: c.From})
	default:
		return nil, platform.ErrUnsupported
	}
	return out, nil
}

// gpuTargets are the GPU nodes a GPU failure may pick: of its region,
// matching its selector, neither cordoned nor already without their GPU.
func (t Topology) gpuTargets(g *v1alpha1.GPUFailure, sup *supervisor.Supervisor) ([]evidence.Target, error) {
	var cordoned map[string]bool
	if sup != nil {
		_, cordoned = sup.Nodes()
	}
	var out []evidence.Target
	for _, reg := range t.Regions {
		for _, n := range reg.Nodes {
			if !n.GPU || (g.Region != "" && n.Region != g.Region) || cordoned[n.Name] || (sup != nil && sup.GPULost(n.Name)) {
				continue
			}
			ok, err := matches(g.Selector, n.Labels)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: n.Region, Labels: n.Labels})
			}
		}
	}
	return out, nil
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
