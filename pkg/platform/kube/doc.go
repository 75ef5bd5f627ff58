// Package kube is the Kubernetes platform: it drills a system that runs in a
// cluster reached through a kubeconfig (or from inside the cluster).
//
// Targets are resolved with live API reads so that a dry run and a real run
// see the same cluster. Faults act through the API the way an operator would:
// pod deletion, cordon plus eviction through k8s.io/kubectl/pkg/drain (which
// honours PodDisruptionBudgets), scaling workloads to zero, and Chaos Mesh
// objects. Every destructive change first writes its prior state into
// firedrill.dev/* annotations on the object it touches, so any later drill
// process (drill cleanup after a crash) can restore it without the journal.
//
// Recovery signals (ready capacity of the watched workloads, the first
// replacement pod, pods stuck Pending for want of a GPU) come from shared
// informers, not from polling.
//
// The pure parts (target filters, annotation bookkeeping and the preflight
// capacity computation) live in their own files and are table-tested; the
// behaviour that depends on the API server (eviction, PDBs, informers) is
// tested against a real control plane under the e2e build tag.
package kube
