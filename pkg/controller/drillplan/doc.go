// Package drillplan is the DrillPlan reconciler of drill serve in a
// cluster. It applies the schedule rules of pkg/scheduler: each reconcile
// reads the plan, its runs (through a cache index on spec.planRef.name)
// and the injected clock, calls scheduler.Decide, and acts on the decision
// in its order: abort the runs concurrencyPolicy Replace replaces, create
// the fire's DrillRun (owned by the plan, named after the fire, with the
// plan's hash), write the plan's status, and prune the runs beyond the
// history limits with their reports. It requeues for the decision's next
// fire or deadline, and decides again whenever the plan's spec changes or
// one of its runs is created, finishes or is deleted.
//
// A plan that does not validate, whose schedule cannot be read, or that
// targets the local sandbox (which only drill run and the one-machine
// drill serve run) is Stalled and fires nothing.
package drillplan
