// Package journal records, durably and before it happens, every fault a run
// is about to inject and every revert, so that a later start (after a crash,
// a kill -9, a power cut) can find faults a dead run left active and revert
// them.
//
// Each run has one JSON file in the journal directory, rewritten atomically
// (temporary file, fsync, rename, directory fsync) on every state change.
// A run's owner is identified by PID and process start time, so a reused PID
// is not mistaken for the run that crashed.
package journal
