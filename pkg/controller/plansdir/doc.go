// Package plansdir is drill serve on one machine: a runner that schedules
// the DrillPlans in a directory of files, runs them with the engine on
// their platforms, keeps their history, and serves all of it to the HTTP
// API as a server.Backend.
//
// The directory is watched (fsnotify, and read again every minute): a
// changed file is loaded with the strict plan loader; a broken edit is
// reported as file:line:column: field: message and the last good version
// of its plans stays scheduled (package plans reads the directory). Each
// plan is scheduled by the same rules as in a cluster, scheduler.Decide;
// each plan's schedule status and the runs in progress are kept in the
// state directory, written atomically, so a restart neither starts a fire
// twice nor forgets one it missed (package state).
//
// Runs started by the schedule and by the API take one path: the run is
// recorded in the state file, then a goroutine builds its platform and
// starts the engine, which journals every fault before touching it; the
// run's snapshot is written every few seconds while it goes, and its
// report goes to the History when it ends. On start the runner reverts
// what dead runs left (package engine/cleanup over the journal) and stores the
// runs a dead drill serve did not, as Error with what was measured. Stop
// aborts every run in progress, which reverts its faults.
//
// History is the runner's interface to the report history; package
// history implements it on the report archive (pkg/archive), the one
// drill run --archive writes and drill reports reads. Observer is the
// seam the command feeds the firedrill_ drill metrics (pkg/metrics)
// through.
package plansdir
