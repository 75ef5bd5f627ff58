package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Reason names what a decision found, for a condition's reason.
type Reason string

// The reasons of a decision.
const (
	// ReasonOnDemand: the plan has no schedule.
	ReasonOnDemand Reason = "OnDemand"
	// ReasonSuspended: the plan is suspended; no fire starts a run.
	ReasonSuspended Reason = "Suspended"
	// ReasonScheduled: nothing is due; the next fire is in the status.
	ReasonScheduled Reason = "Scheduled"
	// ReasonStarting: a fire is due and its run starts now.
	ReasonStarting Reason = "Starting"
	// ReasonWaiting: a due fire waits for active runs to finish
	// (concurrencyPolicy Forbid).
	ReasonWaiting Reason = "Waiting"
	// ReasonReplacing: active runs are being aborted so that a due fire
	// can start (concurrencyPolicy Replace).
	ReasonReplacing Reason = "Replacing"
	// ReasonMissed: a due fire was past startingDeadlineSeconds and was
	// recorded as missed.
	ReasonMissed Reason = "Missed"
)

// Fire is one firing of the schedule.
type Fire struct {
	// Time is the scheduled time, in UTC.
	Time time.Time
	// RunName is the name of the fire's run: RunName(plan, Time).
	RunName string
	// Late is how long after Time the decision was made.
	Late time.Duration
}

// Decision is what to do about a plan's schedule now. The caller does it
// in this order: abort, create, write the status, prune.
type Decision struct {
	// Start is the fire whose run to create now: a DrillRun named
	// Start.RunName with trigger schedule, scheduledTime Start.Time and
	// the plan's hash, owned by the plan. Nil when no run starts.
	Start *Fire

	// Abort names the active runs to abort (concurrencyPolicy Replace):
	// they revert their faults and finish, and a later decision starts the
	// waiting fire. Aborting a run that is already aborting is harmless.
	Abort []string

	// Waiting is a due fire held back by active runs: until they finish
	// (Forbid), or until the aborted ones have (Replace). It starts at a
	// later decision if it is still within startingDeadlineSeconds.
	Waiting *Fire

	// Prune names the finished scheduled runs beyond the history limits,
	// oldest fire first: delete each, with its report.
	Prune []string

	// Status is the plan's schedule status after the decision. Write it
	// once Start's run exists (AlreadyExists counts as existing); when
	// creating the run fails, write nothing and decide again.
	Status v1alpha1.ScheduleStatus

	// RequeueAfter is when to decide again: at the next fire, or when a
	// waiting fire's deadline passes. Zero means no timed decision is
	// needed. Decide again also whenever the plan changes or one of its
	// runs finishes.
	RequeueAfter time.Duration

	// Reason says what the decision found, and Message says it to people;
	// fit for a condition.
	Reason  Reason
	Message string
}

// Decide applies the schedule rules (docs/serve.md) to a defaulted, valid
// plan, all its runs (scheduled or not, finished or not), and the time. It
// reads the previous decision from the plan's status and never changes
// the plan. An error means the schedule or time zone cannot be read: the
// plan needs a change (validation refuses such plans).
func Decide(plan *v1alpha1.DrillPlan, runs []Run, now time.Time) (Decision, error) {
	now = now.Round(0)
	spec, was := &plan.Spec, plan.Status.ScheduleStatus
	active := activeRuns(runs)
	d := Decision{Prune: prune(runs, spec.SuccessfulRunsHistoryLimit, spec.FailedRunsHistoryLimit)}
	d.Status.Active = references(active)
	d.Status.LastSuccessfulTime = lastSuccessful(was.LastSuccessfulTime, runs)
	started := latestFire(was.LastScheduleTime, runs)
	if !started.IsZero() {
		d.Status.LastScheduleTime = metaTime(started)
	}
	d.Status.Missed = was.Missed.DeepCopy()

	if spec.Schedule == "" {
		d.Reason, d.Message = ReasonOnDemand, "no schedule: the plan runs on demand only"
		return d, nil
	}
	sched, err := Parse(spec.Schedule, spec.TimeZone)
	if err != nil {
		return Decision{}, fmt.Errorf("plan %s: %w", plan.Name, err)
	}
	if spec.Suspend {
		d.Reason, d.Message = ReasonSuspended, "suspended: no fire starts a run; the schedule restarts when the plan is resumed"
		return d, nil
	}
	if was.NextScheduleTime == nil {
		// A new schedule (a new plan, a schedule added, a plan resumed)
		// starts now: nothing from before is owed.
		return d.scheduled(sched, sched.after(time.Time{}, now), now), nil
	}
	announced := was.NextScheduleTime.Time
	watermark := started
	if m := was.Missed; m != nil && m.ScheduleTime.After(watermark) {
		watermark = m.ScheduleTime.Time
	}
	owed := sched.due(announced, watermark, now)
	if owed.n == 0 {
		return d.scheduled(sched, sched.after(announced, later(now, watermark)), now), nil
	}

	fire := Fire{Time: owed.last.UTC(), RunName: RunName(plan.Name, owed.last), Late: now.Sub(owed.last)}
	next := sched.after(announced, owed.last)
	if deadline := spec.StartingDeadlineSeconds; deadline != nil && owed.last.Add(seconds(*deadline)).Before(now) {
		msg := fmt.Sprintf("the fire at %s did not start within startingDeadlineSeconds (%ds): it was due %s ago",
			clock(owed.last, sched), *deadline, fire.Late.Round(time.Second))
		d.miss(v1alpha1.MissedDeadlineExceeded, owed.last, owed.n, started, msg)
		d = d.scheduled(sched, next, now)
		d.Reason, d.Message = ReasonMissed, msg+"; "+d.Message
		return d, nil
	}
	var superseded string
	if owed.n > 1 {
		superseded = fmt.Sprintf("%s had not started when the fire at %s came due: only the latest due fire starts late",
			fires(owed.n-1, owed.prev, sched), clock(owed.last, sched))
		d.miss(v1alpha1.MissedSuperseded, owed.prev, owed.n-1, started, superseded)
	}
	switch {
	case len(active) == 0 || spec.ConcurrencyPolicy == v1alpha1.ConcurrencyAllow:
		d.Start = &fire
		d.Status.LastScheduleTime = metaTime(fire.Time)
		d.Status.Active = references(activeRuns(slices.Concat(active, []Run{{Name: fire.RunName, Scheduled: fire.Time}})))
		d = d.scheduled(sched, next, now)
		d.Reason, d.Message = ReasonStarting, fmt.Sprintf("starting run %s for the fire at %s%s; %s",
			fire.RunName, clock(fire.Time, sched), lateness(fire.Late), d.Message)
	case spec.ConcurrencyPolicy == v1alpha1.ConcurrencyReplace:
		d.wait(fire, spec.StartingDeadlineSeconds, next, now)
		d.Abort = names(active)
		d.Reason, d.Message = ReasonReplacing, fmt.Sprintf("aborting %s (concurrencyPolicy Replace): the fire at %s starts once %s reverted %s faults%s",
			runList(active), clock(fire.Time, sched), pick(len(active), "it has", "they have"), pick(len(active), "its", "their"), within(fire, spec.StartingDeadlineSeconds, sched))
	default:
		d.wait(fire, spec.StartingDeadlineSeconds, next, now)
		d.Reason, d.Message = ReasonWaiting, fmt.Sprintf("the fire at %s waits for %s to finish (concurrencyPolicy Forbid)%s",
			clock(fire.Time, sched), runList(active), within(fire, spec.StartingDeadlineSeconds, sched))
	}
	if superseded != "" {
		d.Message += "; " + superseded
	}
	return d, nil
}

// scheduled sets the next fire and the requeue for it.
func (d Decision) scheduled(sched *Schedule, next, now time.Time) Decision {
	d.Reason = ReasonScheduled
	if next.IsZero() {
		d.Status.NextScheduleTime, d.RequeueAfter = nil, 0
		d.Message = "the schedule has no fire in the next five years"
		return d
	}
	d.Status.NextScheduleTime = metaTime(next)
	d.RequeueAfter = max(next.Sub(now), 0)
	d.Message = "next fire at " + clock(next, sched)
	return d
}

// wait holds fire back: it stays the next fire, and the decision comes
// again when its deadline passes or the fire after it comes due.
func (d *Decision) wait(fire Fire, deadline *int64, next, now time.Time) {
	d.Waiting = &fire
	d.Status.NextScheduleTime = metaTime(fire.Time)
	again := next // zero when the schedule has no next fire
	if deadline != nil {
		// The fire is too late once now is after Time + deadline.
		if expiry := fire.Time.Add(seconds(*deadline) + time.Second); again.IsZero() || expiry.Before(again) {
			again = expiry
		}
	}
	if !again.IsZero() {
		d.RequeueAfter = max(again.Sub(now), 0)
	}
}

// miss records n fires ending at fire as missed. The count goes on from the
// previous record when no fire has started since it.
func (d *Decision) miss(reason v1alpha1.MissedReason, fire time.Time, n int, started time.Time, msg string) {
	if was := d.Status.Missed; was != nil && was.ScheduleTime.After(started) {
		n += int(was.Count)
	}
	d.Status.Missed = &v1alpha1.MissedSchedule{
		ScheduleTime: *metaTime(fire), Reason: reason,
		Count: int32(min(n, v1alpha1.MaxMissedCount)), Message: msg,
	}
}

func seconds(s int64) time.Duration { return time.Duration(s) * time.Second }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clock writes a fire on the schedule's clock, with UTC when that differs.
func clock(t time.Time, sched *Schedule) string {
	local := t.In(sched.loc).Format("2006-01-02 15:04:05 MST")
	if _, off := t.In(sched.loc).Zone(); off == 0 {
		return local
	}
	return local + " (" + t.UTC().Format("15:04:05 UTC") + ")"
}

func lateness(late time.Duration) string {
	if late < time.Second {
		return ""
	}
	return fmt.Sprintf(", %s late", late.Round(time.Second))
}

func within(fire Fire, deadline *int64, sched *Schedule) string {
	if deadline == nil {
		return ", however late (no startingDeadlineSeconds)"
	}
	return fmt.Sprintf(", if that is by %s (startingDeadlineSeconds %d)", clock(fire.Time.Add(seconds(*deadline)), sched), *deadline)
}

// fires names n missed fires ending at last.
func fires(n int, last time.Time, sched *Schedule) string {
	if n == 1 {
		return "the fire at " + clock(last, sched)
	}
	count := fmt.Sprintf("%d fires", n)
	if n >= v1alpha1.MaxMissedCount {
		count = fmt.Sprintf("%d or more fires", v1alpha1.MaxMissedCount)
	}
	return count + " up to " + clock(last, sched)
}

func names(runs []Run) []string {
	out := make([]string, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}

func runList(runs []Run) string {
	return pick(len(runs), "run ", "runs ") + strings.Join(names(runs), ", ")
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
