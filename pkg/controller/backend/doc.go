// Package backend is drill serve's HTTP API backend in a cluster: a
// server.Backend over the DrillPlans and DrillRuns of the API server, read
// through the manager's cache. Triggering creates a DrillRun (trigger api)
// that the leader runs; aborting sets its spec.abort. Every replica serves
// it; a run this replica is running is answered with its live snapshot,
// any other from its status or its archived report.
package backend
