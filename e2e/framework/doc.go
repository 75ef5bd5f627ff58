// Package framework is firedrill's end-to-end test bed: a real Kubernetes
// control plane run as plain processes on loopback.
//
// Start launches etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, each on free 127.0.0.1 ports, waits until every
// one of them is healthy and registers a cleanup that stops them all. Nodes
// are plain Node objects that kwok keeps Ready (AddNodes); kwok also moves
// the pods scheduled to them through their lifecycle, becoming Ready after
// Options.PodStartDelay, which models a GPU pod loading its model. The
// scheduler, the controller manager, the Eviction API and
// PodDisruptionBudgets are the real thing, so drains, evictions and
// rescheduling behave as in a production cluster.
//
// With Options.ProcessPods, StartProcesses makes the pods of workloads
// labelled ProcessLabel real: a NodeAgent runs each as a process on its
// IP's loopback image (LoopbackImage) in place of a kubelet, a
// ServiceProxy follows the EndpointSlices as kube-proxy does, and a Gateway
// follows an HTTPRoute, so probes reach the pods through "the Service".
//
// The binaries come from hack/kube-binaries.sh, which builds them once from
// the Go module proxy into a cache keyed by version. Tests that use this
// package carry the e2e build tag and run with `make e2e`; see docs/e2e.md.
package framework
