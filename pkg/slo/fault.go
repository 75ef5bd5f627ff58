package slo

import (
	"fmt"
	"time"
)

// AnalyzeFault measures one fault: its instants, RTOs, RPO, window
// statistics and verdicts. See the package documentation and the design
// record for the exact definitions.
func AnalyzeFault(in FaultInput, obj Objectives) FaultResult {
	samples := sortedByAt(in.Samples)
	inj := in.Injected
	end := observationEnd(in, samples)
	crit := obj.Recovered
	thr := crit.LatencyP99

	res := FaultResult{Name: in.Name}
	res.Instants = Instants{Injected: inj, Replaced: cloneTime(in.Replaced)}
	if !in.Reverted.IsZero() {
		res.Instants.Reverted = timePtr(in.Reverted)
	}

	// The fault's own samples: sent in [injected, end).
	lo := lowerBound(samples, inj)
	hi := lowerBound(samples, end)
	fs := samples[lo:hi]

	capTL := newCapacityTimeline(in.Capacity, end)
	res.CapacityTracked = capTL.tracked

	// impact: the first SLI breach or the first loss of capacity.
	var impact *time.Time
	impactSample := -1
	for i, s := range fs {
		if !s.Good(thr) {
			impact, impactSample = timePtr(s.At), i
			break
		}
	}
	if capTL.tracked {
		if t, ok := capTL.firstLoss(inj, end); ok && (impact == nil || t.Before(*impact)) {
			impact, impactSample = timePtr(t), -1
		}
	}
	res.Instants.Impact = impact

	// ready and the capacity RTO.
	if capTL.tracked {
		if t, ok := capTL.ready(inj); ok {
			res.Instants.Ready = timePtr(t)
			res.CapacityRTO = durPtr(t.Sub(inj))
		} else {
			res.Notes = append(res.Notes, "capacity was still short at the end of observation")
		}
	} else {
		res.Notes = append(res.Notes, "no capacity series was recorded; capacity RTO not measured")
	}

	// serving and recovered.
	switch {
	case len(fs) == 0:
		res.Notes = append(res.Notes, "no probe samples were sent between injection and the end of observation")
	case impact == nil:
		res.Instants.Recovered = timePtr(inj)
	default:
		from := lowerBound(fs, *impact)
		for i := from; i < len(fs); i++ {
			if i != impactSample && !fs[i].Failed() {
				res.Instants.Serving = timePtr(fs[i].At)
				break
			}
		}
		if t, ok := findRecovered(fs, from, end, crit, capTL); ok {
			res.Instants.Recovered = timePtr(t)
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf(
				"no fully observed %s window met the recovered criteria before the end of observation",
				fmtDur(crit.For)))
		}
	}
	if r := res.Instants.Recovered; r != nil {
		res.ServiceRTO = durPtr(r.Sub(inj))
	}

	// recovery time: the larger RTO; capacity must be back when tracked.
	switch {
	case res.ServiceRTO == nil:
	case !capTL.tracked:
		res.RecoveryTime = durPtr(*res.ServiceRTO)
	case res.CapacityRTO != nil:
		res.RecoveryTime = durPtr(max(*res.ServiceRTO, *res.CapacityRTO))
	}
	res.Recovered = res.RecoveryTime != nil

	// windows.
	baseFrom := in.BaselineFrom
	if baseFrom.IsZero() || !baseFrom.Before(inj) {
		baseFrom = inj.Add(-DefaultBaseline)
	}
	// Each window lies in [baseFrom, end): one buffer holds the latencies
	// of any of them.
	lat := make([]time.Duration, 0, lowerBound(samples, end)-lowerBound(samples, baseFrom))
	res.Before = statsSorted(samples, baseFrom, inj, thr, lat)
	if r := res.Instants.Recovered; r != nil {
		res.During = statsSorted(samples, inj, *r, thr, lat)
		res.After = statsSorted(samples, *r, end, thr, lat)
	} else {
		res.During = statsSorted(samples, inj, end, thr, lat)
		res.After = statsSorted(samples, end, end, thr, lat)
	}

	// RPO.
	rpo := measureRPO(in, res.Instants.Recovered, end)
	res.RPO, res.RPOFallback = rpo.rpo, rpo.fallback
	if rpo.note != "" {
		res.Notes = append(res.Notes, rpo.note)
	}

	// verdicts.
	res.Verdicts = []Verdict{}
	if obj.RTO > 0 {
		res.Verdicts = append(res.Verdicts, rtoVerdict(res, obj.RTO))
	}
	if obj.RPO != nil {
		res.Verdicts = append(res.Verdicts, rpoVerdict(rpo, *obj.RPO))
	}
	res.Pass = res.Recovered
	for _, v := range res.Verdicts {
		res.Pass = res.Pass && v.Pass
	}
	return res
}

// observationEnd is in.End, or just after the last sample when zero; never
// before the injection.
func observationEnd(in FaultInput, sorted []Sample) time.Time {
	end := in.End
	if end.IsZero() && len(sorted) > 0 {
		end = sorted[len(sorted)-1].At.Add(time.Nanosecond)
	}
	return maxTime(end, in.Injected)
}

// findRecovered returns the send time of the first good sample at index
// from or later whose window [At, At+For) is fully observed (ends by end),
// keeps capacity back throughout, and whose running SLIs meet the criteria
// after every sample of the window. A breach anywhere in a window disqualifies
// it, so the search moves on to the next good sample: a flapping service
// restarts the window.
func findRecovered(fs []Sample, from int, end time.Time, c Criteria, capTL capacityTimeline) (time.Time, bool) {
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
func windowHolds(win []Sample, wEnd time.Time, c Criteria) bool {
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

func rtoVerdict(res FaultResult, target time.Duration) Verdict {
	v := Verdict{Objective: ObjectiveRTO, Target: fmtDur(target)}
	if !res.Recovered {
		v.Measured = "not recovered"
		v.Reason = "the fault did not recover before the end of observation"
		return v
	}
	rt := *res.RecoveryTime
	v.Measured = fmtDur(rt)
	v.Pass = rt <= target
	parts := "service " + fmtOptDur(res.ServiceRTO)
	if res.CapacityTracked {
		parts += ", capacity " + fmtOptDur(res.CapacityRTO)
	}
	if v.Pass {
		v.Reason = fmt.Sprintf("recovered in %s (%s), within %s", fmtDur(rt), parts, fmtDur(target))
	} else {
		v.Reason = fmt.Sprintf("recovered in %s (%s), over %s by %s", fmtDur(rt), parts, fmtDur(target), fmtDur(rt-target))
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
