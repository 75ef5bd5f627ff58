// Package region takes a region down and brings it back for the
// Kubernetes platform's region cutover, whose one target is the region.
//
// Method drain cordons every node of the region (each with its prior state
// in its marks) and then deletes every pod on them at once, one
// DeleteCollection per node and namespace: a lost region loses its pods
// together, and pods pinned to it cannot move, so disruption budgets are
// not waited for. Method scaleToZero scales every Deployment and
// StatefulSet of the region to zero, each with its replicas in its marks.
// Restore brings back everything the fault's marks hold, so a process that
// did not take the region down (drill cleanup after a crash) restores it
// the same way.
package region
