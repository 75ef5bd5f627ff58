package scheduler

import (
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// countLimit is how many due fires are counted before counting stops: one
// more than a missed record holds, so that the fires before the latest
// still fill one.
const countLimit = v1alpha1.MaxMissedCount + 1

// dueFires are the fires a decision owes: after the watermark (the latest
// fire that started or was recorded missed), from the announced fire on,
// up to now.
type dueFires struct {
	// last is the latest due fire; zero when none is due.
	last time.Time
	// prev is the due fire before last; zero when last is the only one.
	prev time.Time
	// n is how many fires are due, at most countLimit.
	n int
}

// due computes the fires owed at now. announced is the earliest fire not
// yet accounted for, as the previous decision stated it; watermark is the
// latest fire accounted for (zero when none).
func (s *Schedule) due(announced, watermark, now time.Time) dueFires {
	if now.Before(announced) {
		return dueFires{}
	}
	if s.spec == nil {
		return s.dueEvery(announced, watermark, now)
	}
	from := announced.Add(-time.Nanosecond) // announced itself is owed
	if watermark.After(from) {
		from = watermark
	}
	var d dueFires
	var before time.Time // the fire before d.prev
	for f := s.Next(from); !f.IsZero() && !f.After(now); f = s.Next(f) {
		before, d.prev, d.last = d.prev, d.last, f
		if d.n++; d.n == countLimit {
			// Too many to walk: find the latest two from now backwards,
			// after a point with two fires (d.prev and f) still ahead.
			d.prev, d.last = s.lastTwo(before, now)
			return d
		}
	}
	return d
}

// dueEvery computes the due fires of @every on the grid of announced.
func (s *Schedule) dueEvery(announced, watermark, now time.Time) dueFires {
	first := int64(0) // the first owed grid index
	if !watermark.Before(announced) {
		first = int64(watermark.Sub(announced)/s.every) + 1
	}
	last := int64(now.Sub(announced) / s.every)
	if last < first {
		return dueFires{}
	}
	d := dueFires{last: announced.Add(time.Duration(last) * s.every).In(s.loc), n: int(min(last-first+1, countLimit))}
	if last > first {
		d.prev = d.last.Add(-s.every)
	}
	return d
}

// lastTwo returns the last two fires in (from, now]; there are at least
// two. It looks back from now over a window that doubles until it holds
// two fires, so it walks few more fires than the window's last two.
func (s *Schedule) lastTwo(from, now time.Time) (prev, last time.Time) {
	for span := time.Hour; ; span *= 2 {
		start := now.Add(-span)
		if !start.After(from) {
			start = from
		}
		prev, last = time.Time{}, time.Time{}
		for f := s.Next(start); !f.IsZero() && !f.After(now); f = s.Next(f) {
			prev, last = last, f
		}
		if !prev.IsZero() || start.Equal(from) {
			return prev, last
		}
	}
}
