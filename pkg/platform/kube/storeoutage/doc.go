// Package storeoutage makes the model store of a drilled system fail on
// Kubernetes, by the outage's method: scaleToZero scales the store
// workload to zero (its replicas in its marks), networkPolicy creates one
// NetworkPolicy per inference workload that denies egress to the store's
// pods, and chaosMesh creates a NetworkChaos that delays or drops the
// store's packets. Every object it creates is marked with its run and
// fault, so a later process finds and removes it.
package storeoutage
