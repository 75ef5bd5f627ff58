// Package watch observes a cluster for the Kubernetes platform's recovery
// signals, from informers in one controller-runtime cache rather than by
// polling: the ready capacity of the watched workloads, the first pod that
// replaces capacity after a fault, pods the scheduler leaves Pending for
// want of a GPU and Services left without ready endpoints.
//
// The cache watches only what the signals need (the Pending pods of the
// watched namespaces, not every pod) and trims every object before it is
// cached, which is what keeps a 2,000-pod cutover cheap
// (docs/design/20261207-kube-packages.md).
package watch
