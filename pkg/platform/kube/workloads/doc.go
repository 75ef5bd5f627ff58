// Package workloads reads and scales the Deployments and StatefulSets the
// Kubernetes platform drills: it scales a workload to zero with its prior
// replicas recorded in its marks, restores it from them, and finds the
// workloads of a region and those a fault left scaled.
package workloads
