package slo

import (
	"math"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// rank returns the 1-based nearest-rank position of the pct-th percentile
// among n values: ceil(pct·n/100), at least 1. Integer arithmetic keeps it
// exact (0.99·100 is not 99 in floating point).
func rank(pct, n int) int {
	r := (pct*n + 99) / 100
	return max(r, 1)
}

// percentile returns the nearest-rank pct-th percentile of sorted.
func percentile(sorted []time.Duration, pct int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[rank(pct, len(sorted))-1]
}

// meetsRate reports whether successes out of n meet a success rate in
// percent. A rate of zero or less is not judged. The small tolerance keeps
// 999/1000 ≥ 99.9 % true despite 99.9 having no exact binary form.
func meetsRate(successes, n int, pct float64) bool {
	if pct <= 0 {
		return true
	}
	if n == 0 {
		return false
	}
	return 100*float64(successes) >= pct*float64(n)-1e-9*float64(n)
}

// availability is the success rate in percent, 0 for no requests.
func availability(successes, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(successes) / float64(n)
}

// sortedByAt returns samples ordered by send time (stable, so equal times
// keep their input order): samples itself when it already is, else a
// sorted copy. Callers only read the result, so sharing it is safe, and
// the engine, which asks every tick over samples that come sorted, does not
// copy them each time.
func sortedByAt(samples []evidence.Sample) []evidence.Sample {
	if slices.IsSortedFunc(samples, cmpAt) {
		return samples
	}
	out := slices.Clone(samples)
	slices.SortStableFunc(out, cmpAt)
	return out
}

func cmpAt(a, b evidence.Sample) int { return a.At.Compare(b.At) }

// lowerBound is the index of the first sorted sample sent at or after t.
func lowerBound(sorted []evidence.Sample, t time.Time) int {
	return sort.Search(len(sorted), func(i int) bool { return !sorted[i].At.Before(t) })
}

// inWindow reports whether at lies in [from, to).
func inWindow(at, from, to time.Time) bool {
	return !at.Before(from) && at.Before(to)
}

// window are the SLIs of a window in the units the analysis computes in;
// api turns them into the reported v1alpha1.WindowStats.
type window struct {
	from, to                     time.Time
	requests, failures, timeouts int
	slow                         int
	p50, p90, p99, max           time.Duration
}

// successRate is the window's success rate in percent, 0 without requests.
func (w window) successRate() float64 { return availability(w.requests-w.failures, w.requests) }

// api is the window as reported.
func (w window) api() v1alpha1.WindowStats {
	st := v1alpha1.WindowStats{
		From: micro(w.from), To: micro(w.to),
		Requests: int64(w.requests), Failures: int64(w.failures), Timeouts: int64(w.timeouts), Slow: int64(w.slow),
		P50: metav1.Duration{Duration: w.p50}, P90: metav1.Duration{Duration: w.p90},
		P99: metav1.Duration{Duration: w.p99}, Max: metav1.Duration{Duration: w.max},
	}
	if w.requests > 0 {
		st.Availability = v1alpha1.Percent(pctString(w.successRate()))
	}
	return st
}

// Stats computes the SLIs over the samples sent in [from, to). Samples need
// not be sorted. latencyObjective, when positive, counts samples slower than
// it as Slow. Percentiles are exact nearest-rank values over a sorted copy of
// every latency in the window.
func Stats(samples []evidence.Sample, from, to time.Time, latencyObjective time.Duration) v1alpha1.WindowStats {
	return stats(samples, from, to, latencyObjective, make([]time.Duration, 0, 64)).api()
}

// stats is Stats with lat as the space for the latencies in the window.
func stats(samples []evidence.Sample, from, to time.Time, latencyObjective time.Duration, lat []time.Duration) window {
	st := window{from: from, to: to}
	for _, s := range samples {
		if !inWindow(s.At, from, to) {
			continue
		}
		st.requests++
		if s.Failed() {
			st.failures++
		}
		if s.Err == evidence.ClassTimeout {
			st.timeouts++
		}
		if latencyObjective > 0 && s.Latency > latencyObjective {
			st.slow++
		}
		lat = append(lat, s.Latency)
	}
	fillLatency(&st, lat)
	return st
}

// statsSorted is stats over a slice already sorted by At. It collects the
// window's latencies in lat's space (from lat[:0]), growing it when short.
func statsSorted(sorted []evidence.Sample, from, to time.Time, latencyObjective time.Duration, lat []time.Duration) window {
	if to.Before(from) {
		to = from
	}
	lo, hi := lowerBound(sorted, from), lowerBound(sorted, to)
	return stats(sorted[lo:hi], from, to, latencyObjective, lat[:0])
}

func fillLatency(st *window, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	st.p50 = percentile(lat, 50)
	st.p90 = percentile(lat, 90)
	st.p99 = percentile(lat, 99)
	st.max = lat[len(lat)-1]
}

// Series buckets the samples sent in [start, end) into steps of length step
// and returns one Point per step, empty steps included, for charts and live
// views. A non-positive step or an empty range yields nil.
func Series(samples []evidence.Sample, start, end time.Time, step time.Duration) []Point {
	if step <= 0 || !end.After(start) {
		return nil
	}
	steps := int(math.Ceil(float64(end.Sub(start)) / float64(step)))
	lat := make([][]time.Duration, steps)
	pts := make([]Point, steps)
	for i := range pts {
		pts[i].At = start.Add(time.Duration(i) * step)
	}
	for _, s := range samples {
		if !inWindow(s.At, start, end) {
			continue
		}
		i := int(s.At.Sub(start) / step)
		pts[i].Requests++
		if s.Failed() {
			pts[i].Failures++
		}
		lat[i] = append(lat[i], s.Latency)
	}
	for i := range pts {
		p := &pts[i]
		if len(lat[i]) > 0 {
			slices.Sort(lat[i])
			p.P50.Duration = percentile(lat[i], 50)
			p.P99.Duration = percentile(lat[i], 99)
		}
	}
	return pts
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// micro is t as a reported instant; nil for the zero time.
func micro(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewMicroTime(t)
	return &m
}

// microPtr is micro of an optional instant.
func microPtr(t *time.Time) *metav1.MicroTime {
	if t == nil {
		return nil
	}
	return micro(*t)
}

// apiDur is an optional duration as reported.
func apiDur(d *time.Duration) *metav1.Duration {
	if d == nil {
		return nil
	}
	return &metav1.Duration{Duration: *d}
}
