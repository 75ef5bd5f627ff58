// Package bulk creates the thousands of nodes, Deployments and
// PodDisruptionBudgets of the scale tests on a framework cluster, many at a
// time, and waits for them with one List per poll instead of a Get per
// object.
package bulk
