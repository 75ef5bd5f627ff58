package v1alpha1

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Time zones load the same on every machine, with or without /usr/share/zoneinfo.

	"github.com/robfig/cron/v3"
)

// MaxScheduledPlanName is the longest name of a plan with a schedule:
// its runs are named <plan>-<yyyymmdd>-<hhmmss> (16 more characters),
// and a run's name must fit a label value (63 characters).
const MaxScheduledPlanName = 63 - len("-20060102-150405")

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
