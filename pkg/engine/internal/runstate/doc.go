// Package runstate is the model of one run of a drill: where every step
// and fault is, the instants recorded for each, the platform's events and
// capacity, and why the run stops. It also holds the conversions from plan
// types (objectives, timeouts, fault types) that the model is built from,
// and FaultInput, the view of one fault that package slo measures.
//
// Only the executor in package engine writes a State, from its loop
// goroutine. The planner (package planner) and the summary (package
// summary) are pure functions that read it; that is why its fields are
// exported, and why the package is internal to the engine.
package runstate
