// Package drillrun is the DrillRun reconciler of drill serve in a cluster:
// it runs the engine for each DrillRun, writes the run's status while it
// goes, aborts it on request, archives its report, and recovers the runs a
// stopped leader left behind.
//
// Starting a run claims it: the finalizer firedrill.dev/revert and a
// Running status naming this replica (status.runner) and holding the
// defaulted plan (status.planSpec) are written with the object's
// resourceVersion as a precondition, so a stale cache never starts a run
// twice. The engine then runs in a goroutine of the Runner, a
// leader-election runnable; the engine's journal writes each fault into
// status.journal before it is touched (Journal). The Runner writes the
// status from the engine's Snapshot at most every StatusInterval and at
// once on each step and fault milestone, one write at a time, and at the
// end writes the final result and the report's reference and releases the
// finalizer.
//
// Only the leader runs drills, so a Running run that this replica does not
// hold was left by a replica that stopped: the reconciler reverts every
// fault its journal shows unfinished through the platform (Recover, which
// finds the kube platform's marks) or the exec fault's revert action, then
// marks the run Interrupted. The finalizer keeps a run that is deleted
// mid-drill (or whose plan is) until its faults are reverted.
package drillrun
