// Package nodes cordons, drains and uncordons nodes for the Kubernetes
// platform. A drain checks capacity first (package placement), cordons the
// node with its prior state in its marks, in one patch guarded by
// resourceVersion, and evicts through kubectl's drain helper, so
// PodDisruptionBudgets are honoured and the first accepted eviction is
// when the fault took effect. Uncordon restores only what a fault's own
// marks record.
package nodes
