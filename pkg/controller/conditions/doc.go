// Package conditions writes the kstatus conditions of firedrill's objects:
// Ready, Reconciling and Stalled, each stamped with the generation it
// describes and a transition time from an injected clock.
package conditions
