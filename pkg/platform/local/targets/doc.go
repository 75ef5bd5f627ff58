// Package targets resolves a fault's targets in the sandbox, in the
// fault's natural unit: the replicas a pod kill may kill, the nodes a drain
// or a GPU failure may pick, a region's model store, the region a cutover
// takes down. Before Start it reads the plan's topology and the
// supervisor's initial placement (dry runs, Preflight); once the sandbox
// runs, the supervisor's live replicas and cordons.
//
// Preflight checks a plan's faults against that topology before anything
// starts: a fault that matches nothing, or a drain or GPU failure whose
// replicas the rest of the region cannot absorb.
package targets
