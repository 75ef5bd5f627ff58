// Package scheduler holds the schedule rules of `drill serve`, as pure
// functions shared by the cluster reconcilers and the one-machine plans
// runner.
//
// Decide takes a plan (its spec, and in its status what the previous
// decision recorded), every run of the plan, and the time, and returns a
// Decision: the run to start for a due fire (named by RunName, so a fire
// never starts twice), the active runs to abort (concurrencyPolicy
// Replace), a fire held back by active runs, the finished runs to prune by
// the history limits, the plan's new schedule status, and when to decide
// again. It never reads a clock and never changes the plan; the caller
// acts on the decision and writes the status.
//
// Schedule evaluates a cron expression on a time zone's wall clock and is
// correct across daylight-saving changes: a reading the clock skips fires
// at the end of the gap, a reading the clock passes twice fires once.
//
// The rules, with examples, are in docs/serve.md ("Schedule rules").
package scheduler
