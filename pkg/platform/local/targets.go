package local

import (
	"context"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local/targets"
)

// topology is the sandbox as the plan lays it out.
func (p *Platform) topology() targets.Topology {
	return targets.Topology{Regions: p.regions, Order: p.order}
}

// Targets implements platform.Platform: the running replicas and nodes
// once started, the planned ones before (package targets).
func (p *Platform) Targets(_ context.Context, f platform.Fault) ([]evidence.Target, error) {
	return p.topology().Targets(f, p.Supervisor())
}

// Preflight checks a plan's faults against the sandbox's topology before
// anything starts: a fault that matches nothing, or a drain or GPU failure
// whose replicas the rest of the region cannot absorb under
// onInsufficientCapacity: refuse, would otherwise only fail once the
// sandbox is up and the model built. It reports every problem at once.
func (p *Platform) Preflight(_ context.Context, spec *v1alpha1.DrillPlanSpec) error {
	return p.topology().Preflight(spec, p.Supervisor())
}
