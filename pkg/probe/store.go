package probe

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// chunkLen is the number of records per storage chunk. Chunks are allocated
// whole, so the store never copies on growth and its memory is
// ceil(n/chunkLen) × chunkLen × 24 bytes.
const chunkLen = 4096

// record is a compact Sample: 24 bytes instead of 72. The send time is kept
// as an offset from the store's base (the first sample's send time, which
// carries vegeta's monotonic clock reading), so rebuilt times compare
// correctly with the engine's own time.Now() values.
type record struct {
	off     int64 // send time − base, ns
	latency int64 // ns
	code    uint16
	route   uint16
	class   uint8
}

// classes maps a record's class byte to an ErrorClass; the index is the byte.
var classes = [...]evidence.ErrorClass{
	evidence.ClassNone, evidence.ClassTimeout, evidence.ClassRefused, evidence.ClassReset, evidence.ClassDNS, evidence.ClassOther,
}

func classByte(c evidence.ErrorClass) uint8 {
	for i, k := range classes {
		if k == c {
			return uint8(i)
		}
	}
	return uint8(len(classes) - 1) // other
}

// store holds records in completion order. It is not safe for concurrent
// use; the Prober guards it.
type store struct {
	base   time.Time
	routes []string
	chunks [][]record
	n      int
	// kept is since's scratch space, reused from call to call so that a
	// query allocates only the samples it returns. It holds the records of
	// the largest window asked for (24 bytes each).
	kept []record
}

func newStore(routes []string) *store {
	return &store{routes: routes}
}

func (s *store) add(smp evidence.Sample, route uint16) {
	if s.n == 0 {
		s.base = smp.At
	}
	if s.n%chunkLen == 0 {
		s.chunks = append(s.chunks, make([]record, 0, chunkLen))
	}
	c := &s.chunks[len(s.chunks)-1]
	*c = append(*c, record{
		off:     int64(smp.At.Sub(s.base)),
		latency: int64(smp.Latency),
		code:    uint16(max(0, min(smp.Code, 0xffff))),
		route:   route,
		class:   classByte(smp.Err),
	})
	s.n++
}

func (s *store) sample(r record) evidence.Sample {
	smp := evidence.Sample{
		At:      s.base.Add(time.Duration(r.off)),
		Latency: time.Duration(r.latency),
		Code:    int(r.code),
		Err:     classes[r.class],
	}
	if int(r.route) < len(s.routes) {
		smp.Route = s.routes[r.route]
	}
	return smp
}

// since returns the samples sent at or after t, ordered by send time;
// samples sent at the same instant come newest-recorded first.
// Records are appended as requests complete, so completion times
// (send + latency) almost never decrease along the store; the scan walks
// back from the newest record and stops once records completed well before
// t, which keeps live queries proportional to the window, not the drill.
func (s *store) since(t time.Time, slack time.Duration) []evidence.Sample {
	return s.appendSince(nil, t, slack)
}

// appendSince is since appending to dst.
func (s *store) appendSince(dst []evidence.Sample, t time.Time, slack time.Duration) []evidence.Sample {
	if s.n == 0 {
		return dst
	}
	// t.Sub saturates far before base (the zero time asks for every
	// sample); keep room for the slack subtracted below.
	cut := max(int64(t.Sub(s.base)), math.MinInt64/2)
	ci, i := s.scanFrom(cut - int64(slack))
	// Keep the records sent since t in recording order. When their send
	// times strictly increase, that is the order wanted, and no sort is
	// needed: the common case, since requests sent in order mostly complete
	// in order.
	kept := s.kept[:0]
	inOrder := true
	for ; ci < len(s.chunks); ci, i = ci+1, 0 {
		for _, r := range s.chunks[ci][i:] {
			if r.off < cut {
				continue
			}
			if n := len(kept); n > 0 && r.off <= kept[n-1].off {
				inOrder = false
			}
			kept = append(kept, r)
		}
	}
	s.kept = kept
	if len(kept) == 0 {
		return dst
	}
	if !inOrder {
		sortBySend(kept)
	}
	n := len(dst)
	dst = slices.Grow(dst, len(kept))[:n+len(kept)]
	for j, r := range kept {
		dst[n+j] = s.sample(r)
	}
	return dst
}

// scanFrom returns the chunk and index of the oldest record since looks
// at: the one after the newest record that completed before stop (an
// offset from base), or the first record when there is none.
func (s *store) scanFrom(stop int64) (chunk, index int) {
	for ci := len(s.chunks) - 1; ci >= 0; ci-- {
		c := s.chunks[ci]
		for i := len(c) - 1; i >= 0; i-- {
			if c[i].off+c[i].latency < stop {
				return ci, i + 1
			}
		}
	}
	return 0, 0
}

// sortBySend orders records given in recording order by send time, records
// sent at the same instant newest-recorded first: the order in which a
// stable sort puts them when they are collected newest first, as since
// always did. Sorting them oldest first keeps the work small, as the input
// is nearly sorted, where sorting the reversed input is a sort's worst case.
// A sample's send time is base + off, so ordering by off orders by send
// time, and equal offs are equal send times.
func sortBySend(recs []record) {
	slices.SortStableFunc(recs, func(a, b record) int { return cmp.Compare(a.off, b.off) })
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].off == recs[i].off {
			j++
		}
		slices.Reverse(recs[i:j])
		i = j
	}
}

// snapshot is a cheap copy of the store's records (24 bytes each), taken
// under the Prober's lock so that building samples happens outside it.
type snapshot struct {
	s       store
	records []record
}

func (s *store) snapshot() snapshot {
	recs := make([]record, 0, s.n)
	for _, c := range s.chunks {
		recs = append(recs, c...)
	}
	return snapshot{s: store{base: s.base, routes: s.routes}, records: recs}
}

// samples returns every sample of the snapshot ordered by send time.
func (sn snapshot) samples() []evidence.Sample {
	out := make([]evidence.Sample, len(sn.records))
	for i, r := range sn.records {
		out[i] = sn.s.sample(r)
	}
	slices.SortStableFunc(out, func(a, b evidence.Sample) int { return a.At.Compare(b.At) })
	return out
}

// all returns every sample ordered by send time.
func (s *store) all() []evidence.Sample { return s.snapshot().samples() }
