// Package cleanup reverts what dead runs left behind. Every fault a run
// touches is journaled first (package journal); Run reads the journals,
// skips the runs of live processes, stops the runbook commands a dead run
// left running, then reverts its unfinished faults through a platform
// built for the run's plan, or its exec fault's revert action. A fault of a
// cluster this cleanup is not pointed at is left as it is and listed with
// the command that reverts it. drill cleanup, drill run and drill serve
// call it; it shares no state with a running Engine.
package cleanup
