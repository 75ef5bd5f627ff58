package slo

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// rpoMeasure is the RPO of a fault and how it was found.
type rpoMeasure struct {
	rpo      *time.Duration
	fallback bool
	// replica and version name the stalest model served (or the fallback).
	replica, version string
	note             string
}

// measureRPO compares every model served in [recovered, end) with the
// newest model published before the fault. The RPO is the staleness of the
// oldest one served by any replica: newest.CreatedAt − served.CreatedAt, 0
// when not older. A fallback model is maximally stale: it is reported as
// such and has no finite RPO.
func measureRPO(in FaultInput, recovered *time.Time, end time.Time) rpoMeasure {
	var m rpoMeasure
	switch {
	case in.NewestPublishedBefore == nil && len(in.Models) == 0:
		return m
	case in.NewestPublishedBefore == nil:
		m.note = "model observations were recorded but not the newest model published before the fault; RPO not measured"
		return m
	case recovered == nil:
		m.note = "the fault did not recover; RPO not measured"
		return m
	}
	newest := in.NewestPublishedBefore.CreatedAt
	var worst *evidence.ModelObservation
	var worstStale time.Duration
	seen := false
	for i := range in.Models {
		o := &in.Models[i]
		if !inWindow(o.At, *recovered, end) {
			continue
		}
		seen = true
		if o.Fallback {
			if !m.fallback {
				m.fallback, m.replica, m.version = true, o.Replica, o.Version
			}
			continue
		}
		stale := max(newest.Sub(o.CreatedAt), 0)
		if worst == nil || stale > worstStale {
			worst, worstStale = o, stale
		}
	}
	switch {
	case !seen:
		m.note = "no model was observed after recovery; RPO not measured"
	case m.fallback:
		m.note = fmt.Sprintf("replica %s served its fallback model after recovery", m.replica)
	default:
		m.rpo = durPtr(worstStale)
		m.replica, m.version = worst.Replica, worst.Version
	}
	return m
}

func rpoVerdict(m rpoMeasure, target time.Duration) v1alpha1.ObjectiveVerdict {
	v := v1alpha1.ObjectiveVerdict{Objective: ObjectiveRPO, Target: fmtDur(target), Verdict: v1alpha1.VerdictFail}
	switch {
	case m.fallback:
		v.Measured = "fallback"
		v.Reason = fmt.Sprintf("replica %s served the fallback model after recovery (maximally stale)", m.replica)
	case m.rpo == nil:
		v.Measured = "not measured"
		v.Reason = m.note
		if v.Reason == "" {
			v.Reason = "no model observations were recorded"
		}
	default:
		v.Measured = fmtDur(*m.rpo)
		v.Verdict = verdictOf(*m.rpo <= target)
		verb := "within"
		if v.Verdict != v1alpha1.VerdictPass {
			verb = "over"
		}
		v.Reason = fmt.Sprintf("oldest model served after recovery was %s (replica %s), %s stale, %s %s",
			m.version, m.replica, fmtDur(*m.rpo), verb, fmtDur(target))
	}
	return v
}
