// Package liveness is the crash safety of runs on one cluster, built on
// their heartbeats (package lease) and marks (package marks): which run
// holds which marked object, and whether that run is alive.
//
// Heartbeats are the heartbeats this process renews for its own runs: a
// run's first Inject starts one before the run writes its first mark, and
// once it is lost the run must not inject again. Judge groups marked
// objects by run and reads each run's heartbeat where its marks say it
// is. Held is Preflight's refusal of a plan whose targets another run,
// live or dead, holds. RecoverOrphans is drill cleanup --from-cluster: it
// reverts, with no journal, the marks of every run whose heartbeat is dead
// and deletes the heartbeats such runs left.
//
// The package lists and reverts marked objects through the Marks interface
// it defines; the façade implements it over the fault packages, which this
// package never imports.
package liveness
