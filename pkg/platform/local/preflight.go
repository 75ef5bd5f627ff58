package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// Preflight checks a plan's faults against the sandbox's topology before
// anything starts: a pod kill or node drain that matches nothing, or a
// drain that the rest of the region cannot absorb under
// onInsufficientCapacity: refuse, would otherwise only fail once the
// sandbox is up and the model built. It reports every problem at once.
func (p *Platform) Preflight(ctx context.Context, spec *v1alpha1.DrillPlanSpec) error {
	var errs []error
	placement := supervisor.InitialPlacement(p.regions)
	for i := range spec.Steps {
		st := &spec.Steps[i]
		if st.Fault == nil || st.Fault.Exec != nil {
			continue
		}
		f := platform.Fault{ID: st.Name, Spec: st.Fault}
		ts, err := p.Targets(ctx, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("step %s: %w", st.Name, err))
			continue
		}
		if len(ts) == 0 {
			errs = append(errs, fmt.Errorf("step %s: the fault matches nothing in the sandbox (regions %v)", st.Name, p.order))
			continue
		}
		d := st.Fault.NodeDrain
		if d == nil || d.OnInsufficientCapacity == v1alpha1.CapacityWarn {
			continue
		}
		drainable := 0
		for _, t := range ts {
			if roomFor(p.regions, placement, t.Name) {
				drainable++
			}
		}
		if drainable < v1alpha1.SelectCountOf(d.Selection, len(ts)) {
			errs = append(errs, fmt.Errorf("step %s: the rest of the region cannot take the replicas of a drained node (replicas, nodes and podsPerNode leave no room); set onInsufficientCapacity: warn to drain anyway", st.Name))
		}
	}
	return errors.Join(errs...)
}

// roomFor says whether the other nodes of node's region can take the
// replicas initially placed on node.
func roomFor(regions []supervisor.Region, placement []supervisor.Replica, node string) bool {
	load := map[string]int{}
	for _, r := range placement {
		load[r.Node]++
	}
	for _, reg := range regions {
		for _, n := range reg.Nodes {
			if n.Name != node {
				continue
			}
			free := 0
			for _, o := range reg.Nodes {
				if o.Name != node {
					free += max(reg.PodsPerNode-load[o.Name], 0)
				}
			}
			return free >= load[node]
		}
	}
	return false
}
