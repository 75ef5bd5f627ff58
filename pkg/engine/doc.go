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
//     (decide in planner.go) returns what happens next: start a step,
//     inject, hold, revert, end an observation, abort, finish;
//   - act: the executor performs those decisions: platform calls and
//     runbook actions run asynchronously and report back to the loop, so
//     only the loop goroutine ever writes the state.
//
// The report, and the DrillRun status the controller writes, are built by
// one pure function of the state and the samples (Summarize), at the end
// or at any time for a live view. The run's phase and verdict are decided
// there and nowhere else.
//
// Every fault is journaled before it is touched; Cleanup reverts the
// faults of runs whose owner died. Abort conditions, a signal or an
// injection error revert every active fault at once; the report is still
// built.
package engine
