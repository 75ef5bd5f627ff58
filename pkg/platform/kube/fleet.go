package kube

import (
	"errors"
	"fmt"

	"github.com/firedrill/firedrill/pkg/platform/kube/fleet"
)

// Fleet drills a system spread over several clusters, one per region
// (target.clusters): one Platform per cluster, each with its own
// kubeconfig context, clients and informers (see package fleet).
type Fleet = fleet.Fleet

// NewFleet builds a platform per cluster of opts.Spec.Target.Clusters
// from opts, each with the cluster's kubeconfig context and scoped to its
// region: nodes and workloads without a region label are the region's,
// and every target carries the region. Like New it does not contact the
// clusters. opts.Context and opts.RESTConfig must be unset: every cluster
// names its own context.
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
	members := make([]fleet.Cluster, 0, len(clusters))
	for _, c := range clusters {
		o := opts
		o.Context, o.clusterRegion = c.Context, c.Region
		p, err := New(o)
		if err != nil {
			return nil, fmt.Errorf("cluster of region %s (context %s): %w", c.Region, c.Context, err)
		}
		members = append(members, fleet.Cluster{Region: c.Region, Member: p})
	}
	return fleet.New(opts.Clock, members...), nil
}
