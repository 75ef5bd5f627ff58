// Package controller groups the pieces of drill serve in a cluster: the
// DrillPlan reconciler that applies the schedule rules (drillplan), the
// DrillRun reconciler that runs the engine, writes the run's status and
// recovers runs a crashed leader left behind (drillrun), the HTTP API's
// backend over the API server (backend), and the controller-runtime
// manager that ties them together with leader election (cluster).
//
// plansdir, the one-machine runner, lives here too but shares nothing
// with the cluster side except pkg/scheduler and the engine.
package controller
