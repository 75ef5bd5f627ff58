// Package engine runs a DrillPlan: it starts the platform and the probes,
// checks the steady state, injects each fault (journaled before it is
// touched), observes until the service and its capacity recovered or the
// step timed out, reverts, judges every number against the objectives with
// package slo, and builds the report. Abort conditions, a signal or an
// injection error revert every active fault at once; the report is still
// built.
//
// Cleanup reverts faults that crashed runs left active, from the journal.
package engine
