// Package platform defines the seam between the drill engine and the world.
//
// A Platform resolves the candidate targets of a fault, injects the fault on
// one target at a time, reverts it, and reports the capacity of the watched
// workloads. Injection and revert are idempotent: the engine may repeat them
// after a crash. Selecting which candidates a fault acts on is the engine's
// job, not the platform's.
//
// Optional capabilities (model versions for RPO, replacement instants, notes
// for the report, recovery after a crash) are separate small interfaces that
// a platform implements when it can.
package platform
