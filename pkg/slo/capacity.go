package slo

import (
	"slices"
	"sort"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// capacityTimeline is the "every workload ready" state as a step function of
// time, built from a capacity series.
type capacityTimeline struct {
	// tracked is false when no capacity point was given.
	tracked bool
	// changes are the instants where the all-ready state flips, in order;
	// the state before the first change is ready.
	changes []capacityChange
}

type capacityChange struct {
	at    time.Time
	ready bool
}

// newCapacityTimeline folds the series (points at or after end are ignored)
// into all-ready state changes. A workload keeps its last reported state and
// counts as ready before its first point.
func newCapacityTimeline(points []evidence.CapacityPoint, end time.Time) capacityTimeline {
	tl := capacityTimeline{tracked: len(points) > 0}
	pts := slices.Clone(points)
	slices.SortStableFunc(pts, func(a, b evidence.CapacityPoint) int { return a.At.Compare(b.At) })
	short := map[string]bool{}
	shortCount := 0
	state := true
	for i := 0; i < len(pts); {
		at := pts[i].At
		if !at.Before(end) {
			break
		}
		// Apply every point reported at the same instant before judging.
		for ; i < len(pts) && pts[i].At.Equal(at); i++ {
			p := pts[i]
			isShort := p.Ready < p.Desired
			if short[p.Workload] != isShort {
				short[p.Workload] = isShort
				if isShort {
					shortCount++
				} else {
					shortCount--
				}
			}
		}
		if now := shortCount == 0; now != state {
			state = now
			tl.changes = append(tl.changes, capacityChange{at: at, ready: now})
		}
	}
	return tl
}

// readyAt reports the all-ready state at t.
func (tl capacityTimeline) readyAt(t time.Time) bool {
	i := tl.indexAfter(t) // first change strictly after t
	if i == 0 {
		return true
	}
	return tl.changes[i-1].ready
}

// indexAfter is the index of the first change strictly after t.
func (tl capacityTimeline) indexAfter(t time.Time) int {
	return sort.Search(len(tl.changes), func(i int) bool { return tl.changes[i].at.After(t) })
}

// firstLoss returns the first instant in [from, end) at which capacity is
// short: from itself when capacity is already short then.
func (tl capacityTimeline) firstLoss(from, end time.Time) (time.Time, bool) {
	if !tl.readyAt(from) {
		return from, true
	}
	for _, c := range tl.changes[tl.indexAfter(from):] {
		if !c.at.Before(end) {
			break
		}
		if !c.ready {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// ready returns the first instant at or after from from which capacity stays
// back until end, or false when it is short at the end of observation.
func (tl capacityTimeline) ready(from time.Time) (time.Time, bool) {
	if len(tl.changes) == 0 {
		return from, true
	}
	last := tl.changes[len(tl.changes)-1]
	if !last.ready {
		return time.Time{}, false
	}
	return maxTime(from, last.at), true
}

// readyOver reports whether capacity is back throughout [from, to).
func (tl capacityTimeline) readyOver(from, to time.Time) bool {
	if !tl.readyAt(from) {
		return false
	}
	for _, c := range tl.changes[tl.indexAfter(from):] {
		if !c.at.Before(to) {
			return true
		}
		if !c.ready {
			return false
		}
	}
	return true
}
