// Package lease is a run's heartbeat on a cluster, so that a process
// without the run's journal (drill cleanup --from-cluster on another
// machine, a drill serve replica) can tell a live run from a dead one.
//
// A run keeps one coordination.k8s.io/v1 Lease per cluster, in its plan's
// target namespace, named firedrill-run-<run id> (made a DNS label). It is
// created before the run writes its first mark and renewed every
// DefaultInterval while the run lives: spec.holderIdentity is the run id,
// spec.renewTime the last renewal and spec.leaseDurationSeconds the grace
// period after which a reader takes the run for dead. Every mark the run
// writes names the Lease (marks.AnnotationHeartbeat), so a reader finds the
// heartbeat of any marked object with one GET, in whatever namespace the
// object is.
//
// Judge is the rule, a pure function: a heartbeat renewed less than the
// grace ago is live; an older one is stale; no Lease (or one held by
// another run) is missing. Stale and missing both mean dead. A Heartbeat
// that cannot renew for a whole grace period, or finds its Lease deleted
// or taken, is lost for good: another process may already have reverted
// the run's faults, so the run must not inject more.
package lease
