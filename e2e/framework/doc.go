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
// With Options.ProcessPods, procbed.Start makes the pods of workloads
// labelled ProcessLabel real: a procpods.NodeAgent runs each as a process
// on its IP's loopback image (podnet.LoopbackImage) in place of a kubelet,
// a netproxy.ServiceProxy follows the EndpointSlices as kube-proxy does,
// and a netproxy.Gateway follows an HTTPRoute, so probes reach the pods
// through "the Service".
//
// The parts are subpackages: spawn (component processes), pki, kwokstages,
// repodir, workloads (the objects tests deploy), podnet, procpods,
// netproxy, procbed, chaos (the Chaos Mesh stand-in) and bulk (the scale
// tests' helpers). Only procbed and bulk import framework; framework keeps
// aliases for the subpackage names the tests use.
//
// The binaries come from hack/kube-binaries.sh, which builds them once from
// the Go module proxy into a cache keyed by version. Tests that use this
// package carry the e2e build tag and run with `make e2e`; see docs/e2e.md.
package framework
