package scheduler

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Run is what Decide needs to know about one run of the plan.
type Run struct {
	// Name of the run (the DrillRun's name, the local run's id).
	Name string
	// Scheduled is the fire the run was created for (spec.scheduledTime);
	// zero for a run not started by the schedule.
	Scheduled time.Time
	// Phase of the run (status.phase); empty for a run not yet picked up.
	// A run is active until its phase is terminal.
	Phase v1alpha1.RunPhase
	// Completed is when the run finished (status.completionTime); zero
	// while it runs.
	Completed time.Time
}

// RunOf reads a DrillRun.
func RunOf(r *v1alpha1.DrillRun) Run {
	run := Run{Name: r.Name, Phase: r.Status.Phase}
	if t := r.Spec.ScheduledTime; t != nil {
		run.Scheduled = t.Time
	}
	if t := r.Status.CompletionTime; t != nil {
		run.Completed = t.Time
	}
	return run
}

func (r Run) active() bool { return !r.Phase.IsTerminal() }

// compareRuns orders runs by fire, oldest first, then runs not started by
// the schedule, each group by name.
func compareRuns(a, b Run) int {
	if az, bz := a.Scheduled.IsZero(), b.Scheduled.IsZero(); az != bz {
		if az {
			return 1
		}
		return -1
	}
	return cmp.Or(a.Scheduled.Compare(b.Scheduled), cmp.Compare(a.Name, b.Name))
}

// activeRuns are the runs that have not finished, in compareRuns order.
func activeRuns(runs []Run) []Run {
	var out []Run
	for _, r := range runs {
		if r.active() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareRuns)
	return out
}

func references(runs []Run) []v1alpha1.RunReference {
	var refs []v1alpha1.RunReference
	for _, r := range runs {
		ref := v1alpha1.RunReference{Name: r.Name}
		if !r.Scheduled.IsZero() {
			ref.ScheduledTime = metaTime(r.Scheduled)
		}
		refs = append(refs, ref)
	}
	return refs
}

// prune names the finished scheduled runs beyond the history limits,
// oldest fire first. Succeeded runs count against succeeded, runs that
// finished any other way (Failed, Aborted, Error) against failed. Runs not
// started by the schedule and active runs are never pruned; a nil limit
// keeps every run.
func prune(runs []Run, succeeded, failed *int32) []string {
	var ok, notOK []Run
	for _, r := range runs {
		switch {
		case r.Scheduled.IsZero() || r.active():
		case r.Phase == v1alpha1.RunSucceeded:
			ok = append(ok, r)
		default:
			notOK = append(notOK, r)
		}
	}
	victims := slices.Concat(beyond(ok, succeeded), beyond(notOK, failed))
	slices.SortFunc(victims, compareRuns)
	var names []string
	for _, r := range victims {
		names = append(names, r.Name)
	}
	return names
}

// beyond returns the oldest runs past limit.
func beyond(runs []Run, limit *int32) []Run {
	if limit == nil || len(runs) <= int(*limit) {
		return nil
	}
	slices.SortFunc(runs, compareRuns)
	return runs[:len(runs)-int(*limit)]
}

// lastSuccessful is the latest completion of a succeeded run, or was when
// none of runs is later (the run may have been pruned since).
func lastSuccessful(was *metav1.Time, runs []Run) *metav1.Time {
	var latest time.Time
	if was != nil {
		latest = was.Time
	}
	for _, r := range runs {
		if r.Phase == v1alpha1.RunSucceeded && r.Completed.After(latest) {
			latest = r.Completed
		}
	}
	if latest.IsZero() {
		return nil
	}
	return metaTime(latest)
}

// latestFire is the latest fire a run was created for, or was when later.
func latestFire(was *metav1.Time, runs []Run) time.Time {
	var latest time.Time
	if was != nil {
		latest = was.Time
	}
	for _, r := range runs {
		if r.Scheduled.After(latest) {
			latest = r.Scheduled
		}
	}
	return latest
}

// metaTime is t as a status time, in UTC and to the second, as the API
// server stores it.
func metaTime(t time.Time) *metav1.Time {
	return &metav1.Time{Time: t.UTC().Truncate(time.Second)}
}
