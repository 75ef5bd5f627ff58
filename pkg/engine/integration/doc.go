// Package integration holds the engine's real-time tier: whole drills on
// the wall clock against a real HTTP server and real runbook commands,
// which check that what the engine measures matches what happened within
// tens of milliseconds. The unit tier in package engine runs on a fake
// clock.
package integration
