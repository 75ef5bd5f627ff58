// Package runlock keeps two runs of one plan from drilling the same target
// at once: Acquire takes an flock(2) on a file under the journal
// directory, so only a live process holds it and a run that died never
// blocks the next one. The engine takes it before a run touches anything
// unless the plan sets safety.allowConcurrentRuns.
package runlock
