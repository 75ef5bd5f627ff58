package v1alpha1

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // Time zones load the same on every machine, with or without /usr/share/zoneinfo.

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of the scheduling fields.
const (
	// MaxScheduledPlanName is the longest name of a plan with a schedule:
	// its runs are named <plan>-<yyyymmdd>-<hhmmss> (16 more characters),
	// and a run's name must fit a label value (63 characters).
	MaxScheduledPlanName = 63 - len("-20060102-150405")
	// MaxStartingDeadlineSeconds is a year and a day.
	MaxStartingDeadlineSeconds = 366 * 24 * 60 * 60
	// MaxRunsHistoryLimit bounds the history limits.
	MaxRunsHistoryLimit = 1000
)

// cronParser reads the five cron fields and the descriptors. @every is
// read by ParseSchedule itself, which refuses what robfig/cron would round.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

const everyPrefix = "@every "

// ParseSchedule reads a plan's schedule the way drill serve runs it: five
// cron fields (minute hour day-of-month month day-of-week), a descriptor
// (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly), or
// "@every <duration>" with a whole number of seconds, at least one. A
// seconds field and a CRON_TZ= or TZ= prefix are refused: spec.timeZone
// names the zone. It returns a *cron.SpecSchedule, whose Location is
// meaningless (pkg/scheduler evaluates it in the plan's zone), or a
// cron.ConstantDelaySchedule for @every.
func ParseSchedule(schedule string) (cron.Schedule, error) {
	s := strings.TrimSpace(schedule)
	switch {
	case s == "":
		return nil, errors.New("must not be empty")
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, errors.New("must not name a time zone (CRON_TZ= or TZ=): set spec.timeZone")
	}
	if rest, ok := strings.CutPrefix(s, everyPrefix); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		switch {
		case err != nil:
			return nil, fmt.Errorf("@every needs a duration such as 30s or 1h30m: %w", err)
		case d < time.Second:
			return nil, fmt.Errorf("@every must be at least 1s, not %s", d)
		case d%time.Second != 0:
			return nil, fmt.Errorf("@every must be a whole number of seconds, not %s", d)
		}
		return cron.Every(d), nil
	}
	if !strings.HasPrefix(s, "@") {
		if n := len(strings.Fields(s)); n != 5 {
			msg := fmt.Sprintf("must have five fields (minute hour day-of-month month day-of-week), found %d", n)
			if n == 6 {
				msg += `: a seconds field is not supported; use "@every 30s" for a short period`
			}
			return nil, errors.New(msg)
		}
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, err
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return sched, nil
	}
	utc := *spec
	utc.Location = time.UTC
	if utc.Next(neverFiresProbe).IsZero() {
		return nil, errors.New("never fires: no date matches the day-of-month, month and day-of-week fields")
	}
	return &utc, nil
}

// neverFiresProbe is where ParseSchedule looks for a first fire. robfig/cron
// searches five years ahead, and February 29 falls within five years of it.
var neverFiresProbe = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// LoadTimeZone loads spec.timeZone: "" is UTC; "Local" is refused, because
// the same plan must fire at the same instant on every machine.
func LoadTimeZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return time.UTC, nil
	case strings.EqualFold(name, "Local"):
		return nil, errors.New(`must be an IANA time zone name such as "Europe/Paris", not the machine's local zone`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("must be an IANA time zone name such as \"Europe/Paris\": %w", err)
	}
	return loc, nil
}

// schedule validates the scheduling fields of the spec rooted at p.
func (v *validator) schedule(p *field.Path) {
	s := v.spec
	if s.Schedule == "" {
		v.unscheduled(p)
		return
	}
	sched, err := ParseSchedule(s.Schedule)
	if err != nil {
		v.add(field.Invalid(p.Child("schedule"), s.Schedule, err.Error()))
	}
	if s.TimeZone != "" {
		if _, every := sched.(cron.ConstantDelaySchedule); every {
			v.add(field.Forbidden(p.Child("timeZone"), "@every runs at a constant interval, in no time zone; use a cron expression to fire at a wall-clock time"))
		} else if _, err := LoadTimeZone(s.TimeZone); err != nil {
			v.add(field.Invalid(p.Child("timeZone"), s.TimeZone, err.Error()))
		}
	}
	switch s.ConcurrencyPolicy {
	case ConcurrencyForbid, ConcurrencyReplace:
	case ConcurrencyAllow:
		if !s.Safety.AllowConcurrentRuns {
			v.add(field.Invalid(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy,
				"starts runs alongside active ones, which the engine refuses unless safety.allowConcurrentRuns is true"))
		}
	default:
		v.add(field.NotSupported(p.Child("concurrencyPolicy"), s.ConcurrencyPolicy, []ConcurrencyPolicy{ConcurrencyForbid, ConcurrencyAllow, ConcurrencyReplace}))
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
func validateRunOrigin(s *DrillRunSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case s.Trigger == TriggerSchedule && s.ScheduledTime == nil:
		errs = append(errs, field.Required(sp.Child("scheduledTime"), "a run started by the schedule records the fire it was created for"))
	case s.Trigger != TriggerSchedule && s.ScheduledTime != nil:
		errs = append(errs, field.Forbidden(sp.Child("scheduledTime"), "only allowed with trigger schedule"))
	}
	if s.Trigger == TriggerSchedule && s.PlanRef == nil {
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
