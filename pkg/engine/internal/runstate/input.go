package runstate

import (
	"slices"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/slo"
)

// FaultInput is what slo needs to measure f's failover (or its
// fail-back) up to end.
func FaultInput(s *State, f *FaultState, failback bool, end time.Time, samples []evidence.Sample) slo.FaultInput {
	in := slo.FaultInput{
		Name: f.ID, Start: f.InjectedAt, ImpactFrom: f.ImpactFrom, End: end,
		Samples: samples, Capacity: s.Capacity, Models: s.Models,
	}
	// Replacement capacity counts from the moment the inject (or revert)
	// began: a controller may replace a pod before the platform's call that
	// deleted it has returned.
	since := f.InjectStarted
	if failback {
		in.Start, in.ImpactFrom, in.Failback = f.Reverted, f.RevertFrom, true
		since = f.RevertStarted
	}
	if end.Before(in.Start) {
		in.End = in.Start
	}
	// ... and until the end of this recovery's observation.
	for _, t := range append(slices.Clip(f.Replaced), s.Replaced...) {
		if !t.Before(since) && t.Before(in.End) && (in.Replaced == nil || t.Before(*in.Replaced)) {
			at := t
			in.Replaced = &at
		}
	}
	if f.Spec.ModelStoreOutage != nil || f.Spec.RegionCutover != nil {
		in.NewestPublishedBefore = newestBefore(s.Published, f.InjectedAt)
	}
	return in
}

func newestBefore(published []evidence.ModelObservation, t time.Time) *evidence.ModelObservation {
	var newest *evidence.ModelObservation
	for i := range published {
		p := published[i]
		if !p.CreatedAt.After(t) && (newest == nil || p.CreatedAt.After(newest.CreatedAt)) {
			newest = &p
		}
	}
	return newest
}
