// Package recovery knows every kind of object firedrill marks: it lists
// the objects that carry a run's marks (nodes, Deployments and
// StatefulSets, the NetworkPolicies and Chaos Mesh objects a fault
// created, the Services and HTTPRoutes a traffic switch rewrote) and
// reverts one target of a fault from its marks, with the fault's spec when
// it is known and without it (drill cleanup --from-cluster) when not.
//
// It needs no memory of the process that injected the fault, so a resumed
// run, drill cleanup and the run itself revert alike. A region target is
// the façade's: restoring it uses what the process remembers of the
// cutover. To teach recovery a new kind, add it to kinds and to Revert.
package recovery
