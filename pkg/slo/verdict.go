package slo

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// SteadyState checks that the service is healthy over [from, to): before a
// drill (the baseline) and after it (the final check). Healthy means the
// state a fault must recover to: success rate at least
// obj.Recovered.SuccessRate and p99 at most obj.Recovered.LatencyP99; where a
// recovered criterion is unset the drill-wide objective (Availability,
// LatencyP99) is used instead. A window without samples is not healthy.
func SteadyState(samples []evidence.Sample, from, to time.Time, obj Objectives) v1alpha1.CheckResult {
	rate := obj.Recovered.SuccessRate
	if rate <= 0 {
		rate = obj.Availability
	}
	p99 := obj.Recovered.LatencyP99
	if p99 <= 0 {
		p99 = obj.LatencyP99
	}
	st := stats(samples, from, to, p99, nil)
	return check(st, windowVerdicts(st, rate, p99), st.requests > 0)
}

// Drill computes the whole-drill statistics over [start, end) and judges
// the drill-wide availability and p99 objectives. Unset objectives produce
// no verdict.
func Drill(samples []evidence.Sample, start, end time.Time, obj Objectives) v1alpha1.CheckResult {
	st := stats(samples, start, end, obj.LatencyP99, nil)
	return check(st, windowVerdicts(st, obj.Availability, obj.LatencyP99), true)
}

// check is a judged window: Pass when ok and every verdict passed.
func check(st window, verdicts []v1alpha1.ObjectiveVerdict, ok bool) v1alpha1.CheckResult {
	for _, v := range verdicts {
		ok = ok && v.Verdict == v1alpha1.VerdictPass
	}
	return v1alpha1.CheckResult{Stats: st.api(), Verdicts: verdicts, Verdict: verdictOf(ok)}
}

// verdictOf is Pass or Fail.
func verdictOf(pass bool) v1alpha1.Verdict {
	if pass {
		return v1alpha1.VerdictPass
	}
	return v1alpha1.VerdictFail
}

func windowVerdicts(st window, rate float64, p99 time.Duration) []v1alpha1.ObjectiveVerdict {
	verdicts := []v1alpha1.ObjectiveVerdict{}
	if rate > 0 {
		v := v1alpha1.ObjectiveVerdict{Objective: ObjectiveAvailability, Target: fmtPct(rate), Verdict: v1alpha1.VerdictFail}
		if st.requests == 0 {
			v.Measured = "no requests"
			v.Reason = "no probe samples were sent in the window"
		} else {
			v.Measured = fmtPct(st.successRate())
			v.Verdict = verdictOf(meetsRate(st.requests-st.failures, st.requests, rate))
			v.Reason = fmt.Sprintf("%d of %d requests failed (%d timeouts)", st.failures, st.requests, st.timeouts)
		}
		verdicts = append(verdicts, v)
	}
	if p99 > 0 {
		v := v1alpha1.ObjectiveVerdict{Objective: ObjectiveLatencyP99, Target: fmtDur(p99), Verdict: v1alpha1.VerdictFail}
		if st.requests == 0 {
			v.Measured = "no requests"
			v.Reason = "no probe samples were sent in the window"
		} else {
			v.Measured = fmtDur(st.p99)
			v.Verdict = verdictOf(st.p99 <= p99)
			v.Reason = fmt.Sprintf("%d of %d requests were slower than %s", st.slow, st.requests, fmtDur(p99))
		}
		verdicts = append(verdicts, v)
	}
	return verdicts
}

// pctString renders a percentage with up to three decimals, truncated
// rather than rounded so that 99.9996 % never prints as 100 %.
func pctString(p float64) string {
	return strconv.FormatFloat(math.Floor(p*1000+1e-6)/1000, 'f', -1, 64)
}

// fmtPct is pctString with a percent sign.
func fmtPct(p float64) string { return pctString(p) + "%" }
