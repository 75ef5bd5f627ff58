// Package platform defines the seam between the drill engine and the world.
//
// A Platform checks a plan fits it (Preflight), resolves the candidate
// targets of a fault in the fault's natural unit (a pod, a node, a region, a
// store), injects the fault on one target at a time, reverts it, and
// reports the capacity of the watched workloads. Injection and revert are
// idempotent: the engine may repeat them after a crash. Selecting which
// candidates a fault acts on is the engine's job, not the platform's.
//
// What a platform observes on its own (a fault took effect, a replacement
// was scheduled, traffic was switched, a replica served a model, a note for
// the report) it reports as typed events to the evidence.Recorder it was
// started with.
package platform
