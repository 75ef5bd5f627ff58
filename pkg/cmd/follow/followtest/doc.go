// Package followtest scripts the statuses drill serve writes for a run,
// for the tests of the commands that follow runs.
package followtest
