// Package chaos stands in for Chaos Mesh's controller on a framework
// cluster (StandIn): it writes the finalizer and status Chaos Mesh writes
// on its chaos objects, so that firedrill's chaos faults see the real
// object lifecycle through the real API server, without injecting
// anything.
package chaos
