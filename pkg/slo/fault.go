package slo

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// AnalyzeFault measures one recovery (a fault's failover or its
// fail-back): its instants, RTOs, RPO, window statistics and verdicts. See
// docs/spec/v1alpha1/drillrun.md for the exact definitions.
func AnalyzeFault(in FaultInput, obj Objectives) v1alpha1.Recovery {
	m := measure(in, obj)
	rec := v1alpha1.Recovery{
		Start: micro(m.start), End: micro(m.end),
		Instants: v1alpha1.RecoveryInstants{
			Impact: microPtr(m.impact), Replaced: microPtr(m.replaced), Ready: microPtr(m.ready),
			Serving: microPtr(m.serving), Recovered: microPtr(m.recovered),
		},
		ServiceRTO: apiDur(m.serviceRTO), CapacityRTO: apiDur(m.capacityRTO), RecoveryTime: apiDur(m.recoveryTime),
		Recovered: m.recoveryTime != nil, RPO: apiDur(m.rpo.rpo), RPOFallback: m.rpo.fallback,
		CapacityTracked: m.capacityTracked,
		Window:          m.window.api(), Before: m.before.api(), During: m.during.api(), After: m.after.api(),
		Notes: m.notes, Verdicts: []v1alpha1.ObjectiveVerdict{},
	}
	rto, name := obj.RTO, ObjectiveRTO
	if in.Failback {
		rto, name = obj.FailbackRTO, ObjectiveFailbackRTO
	}
	if rto > 0 {
		rec.Verdicts = append(rec.Verdicts, rtoVerdict(m, name, rto))
	}
	if obj.RPO != nil {
		rec.Verdicts = append(rec.Verdicts, rpoVerdict(m.rpo, *obj.RPO))
	}
	pass := rec.Recovered
	for _, v := range rec.Verdicts {
		pass = pass && v.Verdict == v1alpha1.VerdictPass
	}
	rec.Verdict = verdictOf(pass)
	return rec
}

// measurement is a recovery in the units the analysis computes in.
type measurement struct {
	start, end                            time.Time
	impact, replaced, ready               *time.Time
	serving, recovered                    *time.Time
	serviceRTO, capacityRTO, recoveryTime *time.Duration
	capacityTracked                       bool
	window, before, during, after         window
	rpo                                   rpoMeasure
	notes                                 []string
}

// Recovered reports whether a recovery was reached and its recovered
// window of obj.Recovered.For is fully observed by in.End, so that later
// samples cannot change it: the engine asks it every tick to know when to
// stop observing. Without an impact the recovery is the start itself, so
// observation lasts at least recovered.for after the start, long enough to
// see an impact that shows a little late (a capacity drop the platform
// reports on its next reading).
func Recovered(in FaultInput, obj Objectives) bool {
	m := measure(in, obj)
	return m.recoveryTime != nil && !m.recovered.Add(obj.Recovered.For).After(m.end)
}

func measure(in FaultInput, obj Objectives) measurement {
	samples := sortedByAt(in.Samples)
	from := in.impactFrom()
	end := observationEnd(in, samples)
	crit := obj.Recovered
	thr := crit.LatencyP99

	m := measurement{start: in.Start, end: end, replaced: cloneTime(in.Replaced)}

	// The recovery's own samples: sent in [impactFrom, end).
	fs := samples[lowerBound(samples, from):lowerBound(samples, end)]

	capTL := newCapacityTimeline(in.Capacity, end)
	m.capacityTracked = capTL.tracked

	// impact: the first SLI breach or the first loss of capacity.
	impactSample := -1
	for i, s := range fs {
		if !s.Good(thr) {
			m.impact, impactSample = timePtr(s.At), i
			break
		}
	}
	if capTL.tracked {
		if t, ok := capTL.firstLoss(from, end); ok && (m.impact == nil || t.Before(*m.impact)) {
			m.impact, impactSample = timePtr(t), -1
		}
	}
	// The clock starts at the earlier of Start and an impact that came
	// before it (only possible when ImpactFrom is before Start).
	if m.impact != nil && m.impact.Before(m.start) {
		m.start = *m.impact
	}
	start := m.start

	// ready and the capacity RTO.
	if capTL.tracked {
		if t, ok := capTL.ready(start); ok {
			m.ready = timePtr(t)
			m.capacityRTO = durPtr(t.Sub(start))
		} else {
			m.notes = append(m.notes, "capacity was still short at the end of observation")
		}
	} else {
		m.notes = append(m.notes, "no capacity series was recorded; capacity RTO not measured")
	}

	// serving and recovered.
	switch {
	case len(fs) == 0:
		m.notes = append(m.notes, "no probe samples were sent between the start and the end of observation")
	case m.impact == nil:
		m.recovered = timePtr(start)
	default:
		first := lowerBound(fs, *m.impact)
		for i := first; i < len(fs); i++ {
			if i != impactSample && !fs[i].Failed() {
				m.serving = timePtr(fs[i].At)
				break
			}
		}
		if t, ok := findRecovered(fs, first, end, crit, capTL); ok {
			m.recovered = timePtr(t)
		} else {
			m.notes = append(m.notes, fmt.Sprintf(
				"no fully observed %s window met the recovered criteria before the end of observation",
				fmtDur(crit.For)))
		}
	}
	if r := m.recovered; r != nil {
		m.serviceRTO = durPtr(r.Sub(start))
	}

	// recovery time: the larger RTO; capacity must be back when tracked.
	switch {
	case m.serviceRTO == nil:
	case !capTL.tracked:
		m.recoveryTime = durPtr(*m.serviceRTO)
	case m.capacityRTO != nil:
		m.recoveryTime = durPtr(max(*m.serviceRTO, *m.capacityRTO))
	}

	// windows.
	baseFrom := in.BaselineFrom
	if baseFrom.IsZero() || !baseFrom.Before(from) {
		baseFrom = from.Add(-DefaultBaseline)
	}
	// Each window lies in [baseFrom, end): one buffer holds the latencies
	// of any of them.
	lat := make([]time.Duration, 0, lowerBound(samples, end)-lowerBound(samples, baseFrom))
	m.window = statsSorted(samples, start, end, thr, lat)
	m.before = statsSorted(samples, baseFrom, minTime(from, start), thr, lat)
	if r := m.recovered; r != nil {
		m.during = statsSorted(samples, start, *r, thr, lat)
		m.after = statsSorted(samples, *r, end, thr, lat)
	} else {
		m.during = statsSorted(samples, start, end, thr, lat)
		m.after = statsSorted(samples, end, end, thr, lat)
	}

	// RPO.
	m.rpo = measureRPO(in, m.recovered, end)
	if m.rpo.note != "" {
		m.notes = append(m.notes, m.rpo.note)
	}
	return m
}

// observationEnd is in.End, or just after the last sample when zero; never
// before the start.
func observationEnd(in FaultInput, sorted []evidence.Sample) time.Time {
	end := in.End
	if end.IsZero() && len(sorted) > 0 {
		end = sorted[len(sorted)-1].At.Add(time.Nanosecond)
	}
	return maxTime(end, in.Start)
}

// findRecovered returns the send time of the first good sample at index
// from or later whose window [At, At+For) is fully observed (ends by end),
// keeps capacity back throughout, and whose running SLIs meet the criteria
// after every sample of the window. A breach anywhere in a window disqualifies
// it, so the search moves on to the next good sample: a flapping service
// restarts the window.
func findRecovered(fs []evidence.Sample, from int, end time.Time, c Criteria, capTL capacityTimeline) (time.Time, bool) {
	thr := c.LatencyP99
	for i := from; i < len(fs); i++ {
		s := fs[i]
		if !s.Good(thr) {
			continue
		}
		wEnd := s.At.Add(c.For)
		if wEnd.After(end) {
			return time.Time{}, false // later windows end later still
		}
		if capTL.tracked && !capTL.readyOver(s.At, maxTime(wEnd, s.At.Add(time.Nanosecond))) {
			continue
		}
		if windowHolds(fs[i:], wEnd, c) {
			return s.At, true
		}
	}
	return time.Time{}, false
}

// windowHolds walks the samples of a window that starts at win[0] (a good
// sample) and ends before wEnd, and reports whether the running success rate
// and running nearest-rank p99 met the criteria after every sample.
func windowHolds(win []evidence.Sample, wEnd time.Time, c Criteria) bool {
	thr := c.LatencyP99
	n, failures, slow := 0, 0, 0
	for j, s := range win {
		if j > 0 && !s.At.Before(wEnd) {
			break
		}
		n++
		if s.Failed() {
			failures++
		}
		if thr > 0 && s.Latency > thr {
			slow++
		}
		if !meetsRate(n-failures, n, c.SuccessRate) {
			return false
		}
		// p99 ≤ thr ⟺ at least rank(99, n) samples are no slower than thr.
		if thr > 0 && n-slow < rank(99, n) {
			return false
		}
	}
	return true
}

func rtoVerdict(m measurement, objective string, target time.Duration) v1alpha1.ObjectiveVerdict {
	v := v1alpha1.ObjectiveVerdict{Objective: objective, Target: fmtDur(target), Verdict: v1alpha1.VerdictFail}
	if m.recoveryTime == nil {
		v.Measured = "not recovered"
		v.Reason = "did not recover before the end of observation (" + fmtDur(m.end.Sub(m.start)) + " after the start)"
		return v
	}
	rt := *m.recoveryTime
	v.Measured = fmtDur(rt)
	v.Verdict = verdictOf(rt <= target)
	parts := "service " + fmtOptDur(m.serviceRTO)
	if m.capacityTracked {
		parts += ", capacity " + fmtOptDur(m.capacityRTO)
	}
	if v.Verdict == v1alpha1.VerdictPass {
		v.Reason = fmt.Sprintf("recovered in %s (%s), within the %s objective", fmtDur(rt), parts, fmtDur(target))
	} else {
		v.Reason = fmt.Sprintf("recovered in %s (%s), over the %s objective by %s", fmtDur(rt), parts, fmtDur(target), fmtDur(rt-target))
	}
	return v
}

func timePtr(t time.Time) *time.Time { return &t }

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timePtr(*t)
}

func durPtr(d time.Duration) *time.Duration { return &d }

// fmtDur renders a duration rounded to the millisecond.
func fmtDur(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}

func fmtOptDur(d *time.Duration) string {
	if d == nil {
		return "not reached"
	}
	return fmtDur(*d)
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
