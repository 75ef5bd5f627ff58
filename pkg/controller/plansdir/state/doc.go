// Package state is what drill serve on one machine keeps in its state
// directory, and what a restart makes of it.
//
// The state file (state.json, written atomically) holds each plan's
// schedule status and the runs created and not yet in the history, so
// that a restart neither starts a fire twice nor forgets a missed one,
// nor loses a run. A run in progress keeps a snapshot of its report in
// live/<run>.json every few seconds. The lock file keeps a second drill
// serve off the directory while the first lives (flock, released when
// the process dies).
//
// DeadReport is the report a restart stores for a run the last drill
// serve did not: its final report when it finished, otherwise its last
// snapshot, or nothing measured, as Error.
package state
