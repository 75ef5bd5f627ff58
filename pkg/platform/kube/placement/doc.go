// Package placement is the capacity check the Kubernetes platform runs
// before it drains a node or takes a region down: the scheduler's resource
// fit in miniature. It places the pods a drain evicts on the remaining
// schedulable nodes (allocatable minus requests of CPU, memory and GPUs;
// node selectors, required node affinity and taints respected) and reports
// disruption budgets that would block, pods outside safety.namespaces and
// pods no controller owns.
//
// It is pure and table-tested: the caller reads the cluster (Input) and
// decides what a shortfall means.
package placement
