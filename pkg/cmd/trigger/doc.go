// Package trigger is drill trigger: run a stored DrillPlan now through
// drill serve in a cluster, and follow it as drill run does.
package trigger
