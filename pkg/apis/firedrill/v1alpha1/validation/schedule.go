package validation

import (
	"fmt"
	"regexp"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Limits of the scheduling fields.
const (
	// MaxStartingDeadlineSeconds is a year and a day.
	MaxStartingDeadlineSeconds = 366 * 24 * 60 * 60
	// MaxRunsHistoryLimit bounds the history limits.
	MaxRunsHistoryLimit = 1000
)

// schedule validates the scheduling fields of the spec rooted at p.
func (v *validator) schedule(p *field.Path) {
	s := v.spec
	if s.Schedule == "" {
		v.unscheduled(p)
		return
	}
	sched, err := v1alpha1.ParseSchedule(s.Schedule)
	if err != nil {
		v.add(field.Invalid(p.Child("schedule"), s.Schedule, err.Error()))
	}
	if s.TimeZone != "" {
		if _, every := sched.(cron.ConstantDelaySchedule); every {
			v.add(field.Forbidden(p.Child("timeZone"), "@every runs at a constant interval, in no time zone; use a cron expression to fire at a wall-clock time"))
		} else if _, err := v1alpha1.LoadTimeZone(s.TimeZone); err != nil {
			v.add(field.Invalid(p.Child("timeZone"), s.TimeZone, err.Error()))
		}
	}
	switch s.ConcurrencyPolicy {
	case v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyReplace:
	case v1alpha1.ConcurrencyAllow:
		if !s.Safety.AllowConcurrentRuns {
			v.add(field.Invalid(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy,
				"starts runs alongside active ones, which the engine refuses unless safety.allowConcurrentRuns is true"))
		}
	default:
		v.add(field.NotSupported(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy, []v1alpha1.ConcurrencyPolicy{v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyAllow, v1alpha1.ConcurrencyReplace}))
	}
	if d := s.StartingDeadlineSeconds; d != nil && (*d < 1 || *d > MaxStartingDeadlineSeconds) {
		v.add(field.Invalid(p.Child("startingDeadlineSeconds"), *d, fmt.Sprintf("must be between 1 and %d (a year and a day)", MaxStartingDeadlineSeconds)))
	}
	v.intRange(p.Child("successfulRunsHistoryLimit"), s.SuccessfulRunsHistoryLimit, 0, MaxRunsHistoryLimit)
	v.intRange(p.Child("failedRunsHistoryLimit"), s.FailedRunsHistoryLimit, 0, MaxRunsHistoryLimit)
}

// unscheduled refuses the scheduling fields of a plan without a schedule:
// they would say something the plan never does.
func (v *validator) unscheduled(p *field.Path) {
	s := v.spec
	if s.Suspend {
		v.add(field.Forbidden(p.Child("suspend"), "suspends a schedule, and the plan has none: set schedule or remove suspend"))
	}
	set := map[string]bool{
		"timeZone":                   s.TimeZone != "",
		"concurrencyPolicy":          s.ConcurrencyPolicy != "",
		"startingDeadlineSeconds":    s.StartingDeadlineSeconds != nil,
		"successfulRunsHistoryLimit": s.SuccessfulRunsHistoryLimit != nil,
		"failedRunsHistoryLimit":     s.FailedRunsHistoryLimit != nil,
	}
	for _, name := range []string{"timeZone", "concurrencyPolicy", "startingDeadlineSeconds", "successfulRunsHistoryLimit", "failedRunsHistoryLimit"} {
		if set[name] {
			v.add(field.Forbidden(p.Child(name), "only allowed with a schedule"))
		}
	}
}

var planHashRx = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validateRunOrigin checks what a run records about where it came from:
// the fire it was created for and the hash of its plan.
func validateRunOrigin(s *v1alpha1.DrillRunSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case s.Trigger == v1alpha1.TriggerSchedule && s.ScheduledTime == nil:
		errs = append(errs, field.Required(sp.Child("scheduledTime"), "a run started by the schedule records the fire it was created for"))
	case s.Trigger != v1alpha1.TriggerSchedule && s.ScheduledTime != nil:
		errs = append(errs, field.Forbidden(sp.Child("scheduledTime"), "only allowed with trigger schedule"))
	}
	if s.Trigger == v1alpha1.TriggerSchedule && s.PlanRef == nil {
		errs = append(errs, field.Required(sp.Child("planRef"), "a run started by the schedule references its plan"))
	}
	if s.PlanHash != "" {
		if s.PlanRef == nil {
			errs = append(errs, field.Forbidden(sp.Child("planHash"), "only allowed with planRef"))
		}
		if !planHashRx.MatchString(s.PlanHash) {
			errs = append(errs, field.Invalid(sp.Child("planHash"), s.PlanHash, "must be a sha256 in lowercase hex (64 characters)"))
		}
	}
	return errs
}
