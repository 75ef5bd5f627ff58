package scheduler

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Schedule is a plan's schedule in its time zone: a cron expression read
// on the zone's wall clock, or a constant period (@every).
type Schedule struct {
	// spec matches wall-clock readings, written as UTC times; nil for @every.
	spec *cron.SpecSchedule
	// every is the period of @every; zero for a cron expression.
	every time.Duration
	loc   *time.Location
}

// Parse reads a plan's spec.schedule and spec.timeZone with the rules of
// v1alpha1.ParseSchedule and v1alpha1.LoadTimeZone: an empty zone is UTC.
// The zone of an @every schedule is ignored (validation refuses one).
func Parse(schedule, timeZone string) (*Schedule, error) {
	parsed, err := v1alpha1.ParseSchedule(schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", schedule, err)
	}
	s := &Schedule{loc: time.UTC}
	switch p := parsed.(type) {
	case cron.ConstantDelaySchedule:
		s.every = p.Delay
		return s, nil
	case *cron.SpecSchedule:
		s.spec = p
	default:
		return nil, fmt.Errorf("schedule %q: unexpected kind %T", schedule, parsed)
	}
	if s.loc, err = v1alpha1.LoadTimeZone(timeZone); err != nil {
		return nil, fmt.Errorf("time zone %q: %w", timeZone, err)
	}
	return s, nil
}

// Every is the period of an @every schedule, or zero for a cron expression.
func (s *Schedule) Every() time.Duration { return s.every }

// Location is the time zone the schedule is read in; UTC for @every.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first fire strictly after t, in the schedule's zone, or
// the zero time when a cron expression has no fire within five years (the
// horizon of robfig/cron). Fires are whole seconds.
//
// A cron expression names wall-clock readings. A reading the clock skips
// when it jumps forward (02:30 on the spring-forward night in New York)
// fires at the end of the gap (03:00 EDT), once, however many readings fell
// in the gap. A reading the clock passes twice when it is set back (01:30
// on the fall-back night) fires the first time only. So every day with a
// matching reading fires, and no reading fires twice.
//
// @every fires a constant period apart in absolute time, whatever the zone:
// Next returns t, rounded down to the second, plus the period. Decide
// keeps @every fires on the grid of the first fire instead.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return t.Truncate(time.Second).Add(s.every)
	}
	wall := wallClock(t.In(s.loc))
	// The loop ends: each turn moves the reading forward by at least a
	// second, and once the reading is ahead of t's by more than the zone's
	// largest offset change its instant is after t.
	for {
		wall = s.spec.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		if at := instant(wall, s.loc); at.After(t) {
			return at
		}
	}
}

// after is the first fire strictly after t. For @every it lies on the
// grid of anchor (anchor + k × period, k ≥ 0), unless anchor is unset or
// more than a period past t, which means the schedule changed: the grid
// then restarts at t. A cron expression has no grid.
func (s *Schedule) after(anchor, t time.Time) time.Time {
	if s.spec != nil {
		return s.Next(t)
	}
	if anchor.IsZero() || anchor.After(t.Add(s.every)) {
		return s.Next(t)
	}
	if anchor.After(t) {
		return anchor.In(s.loc)
	}
	k := t.Sub(anchor)/s.every + 1
	return anchor.Add(k * s.every).In(s.loc)
}

// wallClock writes t's reading on its own zone's clock as a UTC time, so
// that robfig/cron matches the fields without any zone rules.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// zonePeriod is a stretch of time with one UTC offset.
type zonePeriod struct {
	start, end time.Time // zero when unbounded
	offset     time.Duration
}

func (p zonePeriod) holds(t time.Time) bool {
	return (p.start.IsZero() || !t.Before(p.start)) && (p.end.IsZero() || t.Before(p.end))
}

// instant is the instant at which loc's clock reads wall (given as a UTC
// time). A reading that occurs twice (the clock was set back) is its first
// occurrence; a reading that never occurs (the clock jumped over it) is
// the end of the jump.
func instant(wall time.Time, loc *time.Location) time.Time {
	// Offsets lie within ±15h, so every instant that can read wall lies in
	// this window, and the zone's periods over it say which ones do.
	periods := zonePeriods(loc, wall.Add(-15*time.Hour), wall.Add(15*time.Hour))
	var first time.Time
	for _, p := range periods {
		if at := wall.Add(-p.offset); p.holds(at) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if !first.IsZero() {
		return first.In(loc)
	}
	for i := 1; i < len(periods); i++ {
		before, jump := periods[i-1], periods[i]
		skipped := jump.start.Add(before.offset) // wall readings [skipped, skipped+gap) never occur
		if jump.offset > before.offset && !wall.Before(skipped) && wall.Before(jump.start.Add(jump.offset)) {
			return jump.start.In(loc)
		}
	}
	// Unreachable with real zone data; Go's own choice is the best left.
	y, mo, d := wall.Date()
	h, mi, sec := wall.Clock()
	return time.Date(y, mo, d, h, mi, sec, wall.Nanosecond(), loc)
}

// zonePeriods lists loc's offsets in force between from and to, in order.
func zonePeriods(loc *time.Location, from, to time.Time) []zonePeriod {
	var out []zonePeriod
	for t := from; ; {
		z := t.In(loc)
		_, offset := z.Zone()
		start, end := z.ZoneBounds()
		out = append(out, zonePeriod{start: start, end: end, offset: time.Duration(offset) * time.Second})
		if end.IsZero() || end.After(to) || !end.After(t) {
			return out
		}
		t = end
	}
}
