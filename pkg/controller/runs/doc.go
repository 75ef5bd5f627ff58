// Package runs holds what drill serve's controllers, its API backend and
// the drill trigger and drill abort commands do alike with DrillRuns: list
// a plan's runs through a cache index, create a run of a stored plan, and
// ask for a run to be aborted.
package runs
