// Package objects reads what the Kubernetes platform needs off API objects:
// whether a pod or node has a GPU, which region a node or workload is in
// (on one cluster or as one cluster of a fleet), which pods a drain skips,
// the filters that pick fault candidates, and the names the platform gives
// targets and the objects it creates.
//
// It is pure: every function works on objects already read, and none
// talks to an API server.
package objects
