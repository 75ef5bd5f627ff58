package slo

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// SteadyState checks that the service is healthy over [from, to): before a
// drill (the baseline) and after it (the final check). Healthy means the
// state a fault must recover to: success rate at least
// obj.Recovered.SuccessRate and p99 at most obj.Recovered.LatencyP99; where a
// recovered criterion is unset the drill-wide objective (Availability,
// LatencyP99) is used instead. A window without samples is not healthy.
func SteadyState(samples []Sample, from, to time.Time, obj Objectives) (WindowStats, []Verdict, bool) {
	rate := obj.Recovered.SuccessRate
	if rate <= 0 {
		rate = obj.Availability
	}
	p99 := obj.Recovered.LatencyP99
	if p99 <= 0 {
		p99 = obj.LatencyP99
	}
	st := Stats(samples, from, to, p99)
	verdicts := windowVerdicts(st, rate, p99)
	ok := st.Requests > 0
	for _, v := range verdicts {
		ok = ok && v.Pass
	}
	return st, verdicts, ok
}

// Drill computes the whole-drill statistics over [start, end) and judges
// the drill-wide availability and p99 objectives. Unset objectives produce
// no verdict.
func Drill(samples []Sample, start, end time.Time, obj Objectives) (WindowStats, []Verdict) {
	st := Stats(samples, start, end, obj.LatencyP99)
	return st, windowVerdicts(st, obj.Availability, obj.LatencyP99)
}

func windowVerdicts(st WindowStats, rate float64, p99 time.Duration) []Verdict {
	verdicts := []Verdict{}
	if rate > 0 {
		v := Verdict{Objective: ObjectiveAvailability, Target: fmtPct(rate)}
		if st.Requests == 0 {
			v.Measured = "no requests"
			v.Reason = "no probe samples were sent in the window"
		} else {
			v.Measured = fmtPct(st.Availability)
			v.Pass = meetsRate(st.Requests-st.Failures, st.Requests, rate)
			v.Reason = fmt.Sprintf("%d of %d requests failed (%d timeouts)", st.Failures, st.Requests, st.Timeouts)
		}
		verdicts = append(verdicts, v)
	}
	if p99 > 0 {
		v := Verdict{Objective: ObjectiveLatencyP99, Target: fmtDur(p99)}
		if st.Requests == 0 {
			v.Measured = "no requests"
			v.Reason = "no probe samples were sent in the window"
		} else {
			v.Measured = fmtDur(st.P99)
			v.Pass = st.P99 <= p99
			v.Reason = fmt.Sprintf("%d of %d requests were slower than %s", st.Slow, st.Requests, fmtDur(p99))
		}
		verdicts = append(verdicts, v)
	}
	return verdicts
}

// fmtPct renders a percentage with up to three decimals, truncated rather
// than rounded so that 99.9996 % never prints as 100 %.
func fmtPct(p float64) string {
	return strconv.FormatFloat(math.Floor(p*1000+1e-6)/1000, 'f', -1, 64) + "%"
}
