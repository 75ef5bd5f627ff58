// Package chaos creates Chaos Mesh objects for the Kubernetes platform
// through Chaos Mesh's Go API types (github.com/chaos-mesh/chaos-mesh/api):
// a plan's spec is decoded into the kind's type with unknown fields
// rejected, the object is marked with its run and fault, creation waits
// for Chaos Mesh's AllInjected condition and deletion for its finalizer.
// Discovery is asked first, so a cluster without Chaos Mesh gets an error
// that says how to install it.
package chaos
