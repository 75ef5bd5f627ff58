package kube

import (
	"context"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
	"github.com/firedrill/firedrill/pkg/platform/kube/liveness"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// The heartbeat a run renews on every cluster it marks (package lease).
const (
	// DefaultHeartbeatInterval is how often a run renews its heartbeat.
	DefaultHeartbeatInterval = lease.DefaultInterval
	// DefaultHeartbeatGrace is how old a heartbeat may be before its run
	// is taken for dead.
	DefaultHeartbeatGrace = lease.DefaultGrace
	// MinHeartbeatGrace is the shortest grace drill cleanup --from-cluster
	// accepts.
	MinHeartbeatGrace = lease.MinGrace
)

// HeartbeatStatus is a run's heartbeat as judged at one instant.
type HeartbeatStatus = lease.Status

// HeartbeatKey locates a heartbeat Lease.
type HeartbeatKey = lease.Key

// What a heartbeat says of its run (HeartbeatStatus.State).
const (
	// HeartbeatLive: renewed within the grace period.
	HeartbeatLive = lease.Live
	// HeartbeatStale: last renewed longer ago than the grace period.
	HeartbeatStale = lease.Stale
	// HeartbeatMissing: no heartbeat where the marks say it is, or none
	// named.
	HeartbeatMissing = lease.Missing
)

// OrphanOptions configure RecoverOrphans.
type OrphanOptions = liveness.OrphanOptions

// Orphan is what one fault of one run left marked on the cluster, and
// whether its run is alive.
type Orphan = liveness.Orphan

// RecoverOrphans reverts, with no journal, every fault whose marks are on
// the cluster and whose run is dead: its heartbeat is older than the grace
// period, or it has none. Each object is restored from its own marks, in
// the order recovery always uses (nodes and workloads before the traffic
// switch). A live run's marks are listed and left alone. A dead run's
// heartbeat is deleted once its every mark is gone, and so is a stale
// heartbeat with no marks. It returns every fault it found, one per run and
// step, and an error when a dead run's fault could not be reverted.
//
// A command or webhook traffic switch cannot be run back without the plan;
// a Service or HTTPRoute switch is restored from its marks.
func (p *Platform) RecoverOrphans(ctx context.Context, opts OrphanOptions) ([]Orphan, error) {
	return p.liveness().RecoverOrphans(ctx, opts)
}

// liveness judges and recovers the marks runs left on the cluster.
func (p *Platform) liveness() liveness.Cluster {
	return liveness.Cluster{Client: p.c, Clock: p.opts.Clock, Marks: markSource{p}}
}

// held refuses a plan whose targets carry another run's marks: the
// objects in the plan's namespaces and, when a fault of the plan acts on
// nodes, the nodes (liveness.Cluster.Held).
func (p *Platform) held(ctx context.Context, sc scope, spec *v1alpha1.DrillPlanSpec) error {
	return p.liveness().Held(ctx, sc.watched, spec, p.opts.HeartbeatGrace)
}

// markSource lists marked objects and reverts them from their own marks,
// for package liveness.
type markSource struct{ p *Platform }

// Marked lists the marked objects of namespaces that f matches.
func (m markSource) Marked(ctx context.Context, namespaces []string, f marks.Filter) ([]MarkedObject, error) {
	return m.p.marked(ctx, namespaces, f)
}

// Revert restores one object from its own marks: the plan is unknown.
func (m markSource) Revert(ctx context.Context, runID, fault string, t evidence.Target) error {
	return m.p.revertOne(ctx, platform.Fault{RunID: runID, ID: fault}, t)
}
