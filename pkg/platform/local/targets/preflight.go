package targets

import (
	"errors"
	"fmt"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// Preflight checks a plan's faults against the sandbox's topology before
// anything starts: a fault that matches nothing, or a drain or GPU failure
// whose replicas the rest of the region cannot absorb under
// onInsufficientCapacity: refuse, would otherwise only fail once the
// sandbox is up and the model built. It reports every problem at once.
// sup is the running supervisor, nil before Start.
func (t Topology) Preflight(spec *v1alpha1.DrillPlanSpec, sup *supervisor.Supervisor) error {
	var errs []error
	placement := supervisor.InitialPlacement(t.Regions)
	for i := range spec.Steps {
		st := &spec.Steps[i]
		if st.Fault == nil || st.Fault.Exec != nil {
			continue
		}
		f := platform.Fault{ID: st.Name, Spec: st.Fault}
		ts, err := t.Targets(f, sup)
		if err != nil {
			errs = append(errs, fmt.Errorf("step %s: %w", st.Name, err))
			continue
		}
		if len(ts) == 0 {
			errs = append(errs, fmt.Errorf("step %s: the fault matches nothing in the sandbox (regions %v)", st.Name, t.Order))
			continue
		}
		var sel v1alpha1.Selection
		var policy v1alpha1.CapacityPolicy
		var which, anyway string
		switch f := st.Fault; {
		case f.NodeDrain != nil:
			sel, policy, which, anyway = f.NodeDrain.Selection, f.NodeDrain.OnInsufficientCapacity, "a drained node", "drain"
		case f.GPUFailure != nil:
			sel, policy, which, anyway = f.GPUFailure.Selection, f.GPUFailure.OnInsufficientCapacity, "a node that lost its GPU", "fail it"
		default:
			continue
		}
		if policy == v1alpha1.CapacityWarn {
			continue
		}
		movable := 0
		for _, tg := range ts {
			if roomFor(t.Regions, placement, tg.Name) {
				movable++
			}
		}
		if movable < v1alpha1.SelectCountOf(sel, len(ts)) {
			errs = append(errs, fmt.Errorf("step %s: the rest of the region cannot take the replicas of %s (replicas, nodes and podsPerNode leave no room); set onInsufficientCapacity: warn to %s anyway", st.Name, which, anyway))
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
