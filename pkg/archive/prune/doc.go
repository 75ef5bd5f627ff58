// Package prune decides what `drill reports prune` removes, and removes
// it: archived runs, the journals of finished runs (<state-dir>/journal)
// and the logs of finished sandboxes (<state-dir>/sandbox/*/logs), which
// nothing else ever removes.
//
// Decide is a pure function of the items, the policy and the time. An item
// is removed only when every limit the policy sets selects it (it is
// beyond the newest Keep of its group, and older than MaxAge), and never
// when it is live or pinned: the journal of a run that has not finished or
// whose faults may still be active (drill cleanup needs it), the newest
// journal of each plan (drill run --resume reads it), the logs of a
// sandbox whose process is alive.
package prune
