// Package abort is drill abort: stop a DrillRun that drill serve runs in a
// cluster, reverting every active fault.
package abort
