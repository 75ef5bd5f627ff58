// Package kube is the Kubernetes platform: it drills a system that runs in a
// cluster reached through a kubeconfig (or from inside the cluster), or in
// several clusters, one per region (NewFleet).
//
// This package is a façade over small packages, one concern each
// (docs/design/20261207-kube-packages.md): marks (the annotations that make
// every change crash-safe), objects and placement (pure reads of API
// objects and the drain capacity check), pods, nodes, workloads, region,
// traffic, storeoutage, gpu and chaos (the faults), watch (informers behind
// the recovery signals), preflight (plan checks), targets (a fault's
// targets), recovery (every kind of marked object, listed and reverted from
// its marks), lease and liveness (a run's heartbeat; which run holds which
// marks and whether it is alive), faultlog (what the process remembers
// about each fault, and the typed events it records for the
// evidence.Recorder given to Start), fleet (several clusters) and apiclient
// (the client stack and its request accounting). The façade builds the
// clients, wires the packages for a plan's scope and dispatches Targets,
// Inject, Revert and Recover to them.
//
// Targets are resolved with live API reads so that a dry run and a real run
// see the same cluster. Faults act through the API the way an operator
// would: pod deletion, cordon plus eviction through k8s.io/kubectl/pkg/drain
// (which honours PodDisruptionBudgets), scaling workloads to zero, and
// Chaos Mesh objects. A region cutover has one target, the region, and
// takes it down at once. Every destructive change first writes its prior
// state into firedrill.dev/* annotations on the object it touches, so any
// later drill process (drill cleanup after a crash) can restore it without
// the journal.
package kube
