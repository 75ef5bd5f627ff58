// Package engine runs DrillPlans. It is a library: one Engine runs any
// number of plans at once, each Run with its own journal, platform,
// probes, report and cancellation, so the CLI and the drill serve
// controller embed the same code.
//
// A run is a loop of three parts, in the style of Cluster API's planners:
//
//   - observe: drain the platform's events, sample capacity, read the
//     probe samples and judge, with the pure functions of package slo,
//     whether each fault under observation has recovered;
//   - decide: a pure function of the plan, the run's state and the time
//     (planner.Decide) returns what happens next: start a step, inject,
//     hold, revert, end an observation, abort, finish;
//   - act: the executor performs those decisions: platform calls and
//     runbook actions run asynchronously and report back to the loop, so
//     only the loop goroutine ever writes the state.
//
// The report, and the DrillRun status the controller writes, are built by
// one pure function of the state and the samples (summary.Summarize), at
// the end or at any time for a live view. The run's phase and verdict are
// decided there and nowhere else.
//
// Every fault is journaled before it is touched; package engine/cleanup
// reverts the faults of runs whose owner died. Abort conditions, a signal
// or an injection error revert every active fault at once; the report is
// still built.
//
// What lives where:
//
//   - pkg/engine (this package): the executor and its public API — Engine
//     and Run (run.go), Options and RunOptions (options.go), the loop's
//     observe and act (loop.go), injects and reverts off the loop
//     (ops.go), the prober's set-up (prober.go), target resolution,
//     blast-radius checks and DryRun (select.go), events, the consumer
//     interfaces and run ids;
//   - internal/runstate: the run's state model (State, FaultState,
//     StepState, AbortCause), the conversions from plan types
//     (Objectives, timeouts, FaultType) and FaultInput, a fault as slo
//     measures it. Only this package's loop writes a State;
//   - internal/planner: Decide and its acts, pure and table-tested;
//   - internal/summary: Summarize, pure;
//   - internal/runlock: the per-target flock that keeps two runs of a plan
//     off one target;
//   - cleanup: reverting what dead runs left, from their journals (drill
//     cleanup, drill run, drill serve); it shares no state with an Engine.
//
// depguard (.golangci.yml) keeps the layering: runstate, planner and
// summary import no executor, probe, action, log or clock.
package engine
