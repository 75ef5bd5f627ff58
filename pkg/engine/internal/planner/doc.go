// Package planner is the decide part of a run's loop, in the style of
// Cluster API's rollout planners: Decide is a pure function of the run's
// state (package runstate), the time and a few options that returns what
// happens next — start a step, inject, hold, revert, end an observation,
// abort, finish. It never changes the state and touches nothing; the
// executor in package engine performs the decisions and calls Decide again
// until there is nothing more to do now. It is table-tested on hand-built
// states.
package planner
