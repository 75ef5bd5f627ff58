// Package marks is the cluster-side journal of the Kubernetes platform: the
// firedrill.dev/* annotations and labels written on every object a drill
// changes or creates, and the merge patches that write and remove them.
//
// Every destructive change records the object's prior state in the same
// patch as the change, guarded by resourceVersion, so that any later drill
// process (drill cleanup after a crash) can find the object by its marks
// and restore it without the run's journal. The package is pure: it reads
// and builds metadata and patches and talks to no API server.
package marks
