package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

var (
	propertySchedules = []string{"30 2 * * *", "30 1 * * *", "0 * * * *", "*/15 * * * *", "0 0 * * *", "59 23 * * SUN", "0 9 1 * *", "* * * * *", "0 3 1 1,4,7,10 *"}
	propertyZones     = []string{"", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Havana", "America/Santiago", "Asia/Kolkata", "Pacific/Chatham"}
)

// FuzzNext holds, for any schedule, zone and time, that the next fire is
// after the time, that no fire lies between them, that the fire reads as
// the schedule says on the zone's clock (or ends a gap the clock jumped
// over), and that it is the first occurrence of its reading.
func FuzzNext(f *testing.F) {
	for i := range propertySchedules {
		f.Add(uint8(i), uint8(1), int64(1772949600)) // the spring-forward night in New York
		f.Add(uint8(i), uint8(1), int64(1793509200)) // the fall-back night
		f.Add(uint8(i), uint8(3), int64(1791129600)) // Lord Howe's half-hour spring
	}
	f.Fuzz(func(t *testing.T, si, zi uint8, unix int64) {
		const y2000, century = 946684800, 100 * 365 * 86400
		if unix < y2000 || unix >= y2000+century { // keep to 2000-2100
			unix = y2000 + (unix%century+century)%century
		}
		s, err := Parse(propertySchedules[int(si)%len(propertySchedules)], propertyZones[int(zi)%len(propertyZones)])
		require.NoError(t, err)
		from := time.Unix(unix, int64(unix%1e9))
		next := s.Next(from)
		if next.IsZero() {
			return
		}
		require.True(t, next.After(from), "next %s is not after %s", next, from)
		require.Zero(t, next.Nanosecond(), "fires are whole seconds")
		for _, u := range []time.Time{next.Add(-time.Nanosecond), from.Add(next.Sub(from) / 2)} {
			if !u.Before(from) {
				require.True(t, s.Next(u).Equal(next), "a fire between %s and %s: %s", from, next, s.Next(u))
			}
		}
		local := next.In(s.Location())
		reading := wallClock(local)
		spec := *s.spec
		spec.Location = time.UTC
		if !spec.Next(reading.Add(-time.Second)).Equal(reading) {
			start, _ := local.ZoneBounds()
			require.True(t, start.Equal(next), "%s reads %s, which the schedule does not name, and is no jump of the clock", next, reading)
			_, before := next.Add(-time.Second).In(s.Location()).Zone()
			_, after := local.Zone()
			require.Less(t, before, after, "a fire at a zone change that the schedule does not name ends a jump forward")
		}
		for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
			require.False(t, wallClock(next.Add(-back).In(s.Location())).Equal(reading), "%s is the second time the clock reads %s", next, reading)
		}
	})
}

// TestDecideSimulation runs a fake drill serve against many plans over days
// that cross daylight-saving changes: the controller reconciles when asked
// to, when runs finish, at random moments, and not at all while it is
// down. It holds that no fire ever starts twice, fires start in order and
// only when due, Forbid never overlaps runs, no run starts past its
// deadline, only finished scheduled runs are pruned, and, with the
// schedule untouched, every fire is either started or counted as missed.
func TestDecideSimulation(t *testing.T) {
	schedules := []struct{ schedule, zone string }{
		{"30 2 * * *", "America/New_York"}, {"30 1 * * *", "America/New_York"}, {"*/20 * * * *", "America/New_York"},
		{"15 2 * * *", "Australia/Lord_Howe"}, {"@every 7m", ""}, {"0 * * * *", ""},
	}
	starts := []time.Time{utc(2026, 3, 7, 0, 0, 0), utc(2026, 10, 31, 0, 0, 0), utc(2026, 10, 2, 0, 0, 0)}
	policies := []v1alpha1.ConcurrencyPolicy{v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyAllow, v1alpha1.ConcurrencyReplace}
	deadlines := []*int64{nil, ptr.To[int64](60), ptr.To[int64](1800)}
	seed := uint64(0)
	for _, sc := range schedules {
		for _, pol := range policies {
			for _, dl := range deadlines {
				seed++
				name := fmt.Sprintf("%s %s %s deadline %v", sc.schedule, sc.zone, pol, ptr.Deref(dl, 0))
				t.Run(name, func(t *testing.T) {
					simulate(t, rand.New(rand.NewPCG(seed, 7)), sc.schedule, sc.zone, pol, dl, starts[seed%uint64(len(starts))])
				})
			}
		}
	}
}

type simRun struct {
	Run
	ends     time.Time // when it finishes, as it is going
	aborting bool
}

func simulate(t *testing.T, rng *rand.Rand, schedule, zone string, pol v1alpha1.ConcurrencyPolicy, dl *int64, start time.Time) {
	t.Helper()
	p := plan(t, v1alpha1.ScheduleStatus{}, func(s *v1alpha1.DrillPlanSpec) {
		s.Schedule, s.TimeZone, s.ConcurrencyPolicy, s.StartingDeadlineSeconds = schedule, zone, pol, dl
		s.Safety.AllowConcurrentRuns = pol == v1alpha1.ConcurrencyAllow
		s.SuccessfulRunsHistoryLimit, s.FailedRunsHistoryLimit = ptr.To[int32](2), ptr.To[int32](1)
	})
	sched, err := Parse(schedule, zone)
	require.NoError(t, err)
	runs := map[string]*simRun{}
	created := map[string]bool{}
	var armed, lastStarted time.Time
	missedTotal := 0
	stats := map[string]int{}
	now, end := start, start.Add(10*24*time.Hour)
	var requeue time.Time
	for now.Before(end) {
		// Runs that are due to finish do.
		for _, r := range runs {
			if r.active() && !r.ends.After(now) {
				r.Phase, r.Completed = []v1alpha1.RunPhase{v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunError}[rng.IntN(3)], r.ends
				if r.aborting {
					r.Phase = v1alpha1.RunAborted
				}
			}
		}
		var observed []Run
		for _, r := range runs {
			observed = append(observed, r.Run)
		}
		rng.Shuffle(len(observed), func(i, j int) { observed[i], observed[j] = observed[j], observed[i] })
		was := p.Status.ScheduleStatus.DeepCopy()
		d, err := Decide(p, observed, now)
		require.NoError(t, err)
		if armed.IsZero() {
			armed = now
		}
		activeBefore := 0
		for _, r := range runs {
			if r.active() {
				activeBefore++
			}
		}
		for _, name := range d.Abort {
			require.Equal(t, v1alpha1.ConcurrencyReplace, pol, "only Replace aborts")
			r := runs[name]
			require.True(t, r.active(), "only active runs are aborted")
			if !r.aborting { // it reverts its faults for a moment, then finishes Aborted
				r.aborting, r.ends = true, minTime(r.ends, now.Add(time.Duration(rng.IntN(90))*time.Second))
			}
			stats["abort"]++
		}
		if f := d.Start; f != nil {
			require.False(t, created[f.RunName], "the fire at %s started twice", f.Time)
			require.True(t, f.Time.After(lastStarted), "fires start in order: %s after %s", f.Time, lastStarted)
			require.False(t, f.Time.After(now), "a fire starts when due, not before")
			require.Equal(t, now.Sub(f.Time), f.Late)
			if dl != nil {
				require.LessOrEqual(t, f.Late, seconds(*dl), "no run starts past its deadline")
			}
			if pol == v1alpha1.ConcurrencyForbid || pol == v1alpha1.ConcurrencyReplace {
				require.Zero(t, activeBefore, "%s never overlaps runs", pol)
			}
			if sched.Every() == 0 {
				require.True(t, sched.Next(f.Time.Add(-time.Second)).Equal(f.Time), "%s is a fire of the schedule", f.Time)
			}
			created[f.RunName], lastStarted = true, f.Time
			stats["start"]++
			runs[f.RunName] = &simRun{Run: Run{Name: f.RunName, Scheduled: f.Time, Phase: v1alpha1.RunRunning},
				ends: now.Add(time.Duration(5+rng.IntN(120)) * time.Minute)}
		}
		if d.Waiting != nil {
			stats["wait"]++
		}
		stats["prune"] += len(d.Prune)
		if d.Waiting == nil && d.Status.NextScheduleTime != nil {
			require.True(t, d.Status.NextScheduleTime.After(now), "the next fire is after now unless one waits")
		}
		if m := d.Status.Missed; m != nil && (was.Missed == nil || !m.ScheduleTime.Equal(&was.Missed.ScheduleTime)) {
			n := int(m.Count)
			if was.Missed != nil && was.Missed.ScheduleTime.After(latestFire(was.LastScheduleTime, observed)) {
				n -= int(was.Missed.Count)
			}
			require.Positive(t, n, "a new missed record counts new fires")
			missedTotal += n
			stats[string(m.Reason)]++
		}
		for _, name := range d.Prune {
			r := runs[name]
			require.False(t, r.active(), "only finished runs are pruned")
			require.False(t, r.Scheduled.IsZero(), "only scheduled runs are pruned")
			delete(runs, name)
		}
		p.Status.ScheduleStatus = d.Status
		if d.RequeueAfter > 0 {
			requeue = now.Add(d.RequeueAfter)
		}
		// The next reconcile: when asked, when a run ends, or at random.
		next := now.Add(time.Duration(1+rng.IntN(3*3600)) * time.Second)
		if !requeue.IsZero() && requeue.After(now) {
			next = minTime(next, requeue)
		}
		for _, r := range runs {
			if r.active() && r.ends.After(now) {
				next = minTime(next, r.ends)
			}
		}
		if rng.IntN(15) == 0 { // drill serve is down for up to 8 hours
			next = next.Add(time.Duration(rng.IntN(8*3600)) * time.Second)
		}
		now = next
	}
	// Every fire after the schedule was armed, up to the last one accounted
	// for, was started or counted missed; no fire is counted twice.
	watermark := lastStarted
	if m := p.Status.Missed; m != nil && m.ScheduleTime.After(watermark) {
		watermark = m.ScheduleTime.Time
	}
	var want int
	anchor := p.Status.NextScheduleTime
	for f := sched.Next(armed); !f.After(watermark); f = sched.Next(f) {
		want++
	}
	if sched.Every() > 0 && anchor != nil { // @every counts on its own grid
		want = 0
		for f := anchor.Time; f.After(armed); f = f.Add(-sched.Every()) {
			if !f.After(watermark) {
				want++
			}
		}
	}
	require.Equal(t, want, len(created)+missedTotal, "fires started (%d) and missed (%d)", len(created), missedTotal)
	require.NotEmpty(t, created, "the simulation starts runs")
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range created {
			if !yield(n) {
				return
			}
		}
	})
	require.Equal(t, len(created), len(slices.Compact(names)))
	t.Logf("%v", stats)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
