// Package actiontest provides a fake runbook action runner for tests of the
// packages that run actions (the engine, cleanup): each action runs on a
// fake clock, is reported to the context's tracker like a real one, and
// takes exactly the time it is told to.
package actiontest
