// Package cluster is drill serve in a cluster: a controller-runtime
// manager with the DrillPlan and DrillRun reconcilers, the Runner that
// runs drills on the leader, leader election on a Lease (on by default),
// health and readiness probes, the controllers' metrics and the firedrill_
// drill metrics (pkg/metrics, fed by the reconcilers and restored from the
// archive on the leader) on the manager's registry, the reports in the
// report archive (pkg/controller/reportarchive), and the HTTP API's
// backend and authentication (TokenReview) and authorization
// (SubjectAccessReview), served on every replica.
package cluster
