// Package faults is how the sandbox's faults act on a started sandbox:
// a node drain (cordon, replacements first, then a graceful stop, as
// kubectl drain would), a GPU failure (the node's replicas die and none is
// placed on it until revert), a model store outage (the store stopped, or
// a slow or hung toxic, and this region's share of restartReplicas killed)
// and a region cutover (the region's replicas and store down, traffic
// moved through the front door, and back once the region is ready).
//
// The sandbox's store processes are behind the Stores interface defined
// here, and what a fault did is reported through Observer; the platform
// keeps what it remembers of each fault and turns it into events.
package faults
