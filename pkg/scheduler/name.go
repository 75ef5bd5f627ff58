package scheduler

import (
	"time"
)

// runNameLayout is the fire's time in a run's name: UTC, to the second.
const runNameLayout = "20060102-150405"

// RunName is the name of the run a fire of plan creates:
// <plan>-<yyyymmdd>-<hhmmss>, the fire's time in UTC to the second
// ("nightly-20260308-070000"). The same fire always gets the same name, so
// creating its run twice fails with AlreadyExists rather than running the
// drill twice; fires a second apart (@every 1s) get different names. A
// plan with a schedule has a name of at most
// v1alpha1.MaxScheduledPlanName characters, so the result fits a label
// value.
func RunName(plan string, fire time.Time) string {
	return plan + "-" + fire.UTC().Format(runNameLayout)
}
