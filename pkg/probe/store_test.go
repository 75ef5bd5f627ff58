package probe

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// referenceSince is the straightforward definition store.since must match
// exactly: walk back from the newest record, stop at the first one that
// completed before t − slack, keep those sent at or after t, and stably sort
// that newest-first collection by send time (so samples sent at the same
// instant come newest-recorded first).
func referenceSince(s *store, t time.Time, slack time.Duration) []evidence.Sample {
	if s.n == 0 {
		return nil
	}
	cut := int64(t.Sub(s.base))
	stop := cut - int64(slack)
	var out []evidence.Sample
	for ci := len(s.chunks) - 1; ci >= 0; ci-- {
		c := s.chunks[ci]
		for i := len(c) - 1; i >= 0; i-- {
			r := c[i]
			if r.off+r.latency < stop {
				ci = -1
				break
			}
			if r.off >= cut {
				out = append(out, s.sample(r))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b evidence.Sample) int { return a.At.Compare(b.At) })
	return out
}

// pending is a request in flight in the simulated probe of recordRandom.
type pending struct {
	smp   evidence.Sample
	route uint16
	done  time.Time
}

// recordRandom records n simulated requests into s in the order they would
// complete, then perturbs that order a little as concurrent workers do. Send
// times are gap apart on average, with repeats (equal send times) when
// ties is set; latencies are mostly short, with some slow requests and
// timeouts that complete long after requests sent later.
func recordRandom(rng *rand.Rand, s *store, start time.Time, n int, gap time.Duration, ties bool) {
	reqs := make([]pending, n)
	at := start
	for i := range reqs {
		if !ties || i == 0 || rng.IntN(4) != 0 {
			at = at.Add(time.Duration(rng.Int64N(int64(2 * gap))))
		}
		lat := time.Duration(1+rng.IntN(20)) * time.Millisecond
		code, class := 200, evidence.ClassNone
		switch rng.IntN(20) {
		case 0:
			lat = time.Second // timeout
			code, class = 0, evidence.ClassTimeout
		case 1:
			lat = time.Duration(rng.Int64N(int64(900 * time.Millisecond)))
			code = 503
		case 2:
			lat = 0 // refused at once
			code, class = 0, evidence.ClassRefused
		}
		reqs[i] = pending{
			smp:   evidence.Sample{At: at, Latency: lat, Code: code, Err: class},
			route: uint16(rng.IntN(3)),
			done:  at.Add(lat),
		}
	}
	slices.SortStableFunc(reqs, func(a, b pending) int { return a.done.Compare(b.done) })
	for i := 1; i < len(reqs); i++ {
		if rng.IntN(10) == 0 {
			reqs[i-1], reqs[i] = reqs[i], reqs[i-1]
		}
	}
	for _, p := range reqs {
		s.add(p.smp, p.route)
	}
}

// TestSinceMatchesTheReference pins since to referenceSince, order of equal
// send times included, on random stores: in order, out of order (slow
// requests and timeouts complete after later ones), with repeated send
// times, across chunk boundaries, for windows that start before, inside and
// after the samples.
func TestSinceMatchesTheReference(t *testing.T) {
	start := time.Now() // carries a monotonic reading, as vegeta's timestamps do
	tests := []struct {
		name string
		n    int
		gap  time.Duration
		ties bool
	}{
		{name: "an empty store returns nothing", n: 0, gap: time.Millisecond},
		{name: "one sample", n: 1, gap: time.Millisecond},
		{name: "samples far apart complete nearly in order", n: 500, gap: 100 * time.Millisecond},
		{name: "samples close together complete out of order", n: 3000, gap: time.Millisecond},
		{name: "samples sent at the same instant keep the reference order", n: 3000, gap: 2 * time.Millisecond, ties: true},
		{name: "a store of several chunks", n: chunkLen + 1000, gap: 5 * time.Millisecond, ties: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(10) {
				rng := rand.New(rand.NewPCG(seed, 42))
				s := newStore([]string{"a", "b", "c"})
				base := start
				if seed%2 == 1 {
					base = start.Round(0) // wall clock only, as after a JSON round trip
				}
				recordRandom(rng, s, base, tt.n, tt.gap, tt.ties)
				span := time.Duration(tt.n+1) * 2 * tt.gap
				for q := range 12 {
					from := base.Add(time.Duration(rng.Int64N(int64(span)+1)) - span/10)
					slack := []time.Duration{0, 50 * time.Millisecond, time.Second + sinceSlack, time.Hour}[q%4]
					want := referenceSince(s, from, slack)
					got := s.since(from, slack)
					require.Equal(t, want, got, "seed %d, since %s, slack %s", seed, from.Sub(base), slack)
					prefix := []evidence.Sample{{Route: "earlier"}}
					require.Equal(t, append(prefix, want...), s.appendSince(prefix, from, slack), "appendSince appends the same")
				}
			}
		})
	}
}

// TestSinceBreaksTiesNewestRecordedFirst spells out the order of samples
// sent at the same instant, which the reference implies.
func TestSinceBreaksTiesNewestRecordedFirst(t *testing.T) {
	t0 := time.Now()
	s := newStore([]string{"first", "second", "third"})
	s.add(evidence.Sample{At: t0, Latency: time.Millisecond, Code: 200}, 0)
	s.add(evidence.Sample{At: t0.Add(time.Millisecond), Latency: time.Millisecond, Code: 200}, 1)
	s.add(evidence.Sample{At: t0.Add(time.Millisecond), Latency: 2 * time.Millisecond, Code: 503}, 2)
	got := s.since(t0, time.Second)
	require.Equal(t, []string{"first", "third", "second"}, routesOf(got))
	require.Equal(t, referenceSince(s, t0, time.Second), got)
}

// TestAppendSinceReusesTheBuffer: the engine asks every tick, into the
// buffer of the tick before.
func TestAppendSinceReusesTheBuffer(t *testing.T) {
	p, err := New(Options{Endpoint: "http://127.0.0.1:1", Templates: oneRoute(), Pools: testPools()})
	require.NoError(t, err)
	t0 := time.Now()
	fillStore(p.store, 1000)
	from := t0.Add(500 * 20 * time.Millisecond)
	want := p.Since(from)
	require.Len(t, want, 500)

	buf := p.AppendSince(nil, from)
	require.Equal(t, want, buf)
	again := p.AppendSince(buf[:0], from)
	require.Equal(t, want, again)
	require.Same(t, &buf[0], &again[0], "the second call reuses the first one's space")
	require.Zero(t, testing.AllocsPerRun(10, func() { again = p.AppendSince(again[:0], from) }))
	require.Empty(t, p.AppendSince(buf[:0], t0.Add(time.Hour)), "nothing was sent after the last sample")
	require.Len(t, p.AppendSince(nil, time.Time{}), 1000, "the zero time asks for every sample")
	require.Len(t, p.AppendSince(nil, t0.Add(-time.Hour)), 1000)
}

func routesOf(samples []evidence.Sample) []string {
	out := make([]string, len(samples))
	for i, s := range samples {
		out[i] = s.Route
	}
	return out
}

// BenchmarkSince measures one Since over the last 3,000 samples, as the
// engine asks for every tick: samples recorded in send order (10 req/s,
// fast responses), and out of order (slow requests and timeouts complete
// after requests sent later, as during a fault). AppendSince reuses one
// buffer, as the engine does from tick to tick.
func BenchmarkSince(b *testing.B) {
	const window = 3000
	start := time.Now()
	cases := []struct {
		name string
		fill func(s *store)
	}{
		{name: "in-order", fill: func(s *store) {
			for i := range 2 * window {
				s.add(evidence.Sample{At: start.Add(time.Duration(i) * 100 * time.Millisecond), Latency: 7 * time.Millisecond, Code: 200}, uint16(i%3))
			}
		}},
		{name: "out-of-order", fill: func(s *store) {
			recordRandom(rand.New(rand.NewPCG(1, 2)), s, start, 2*window, 50*time.Millisecond, false)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p, err := New(Options{Endpoint: "http://127.0.0.1:1", Templates: oneRoute(), Pools: testPools()})
			require.NoError(b, err)
			p.store = newStore([]string{"a", "b", "c"})
			c.fill(p.store)
			all := p.Samples()
			from := all[len(all)-window].At
			require.Len(b, p.Since(from), window, "the window holds %d samples", window)
			b.Run("Since", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if len(p.Since(from)) != window {
						b.Fatal("wrong window")
					}
				}
			})
			b.Run("AppendSince", func(b *testing.B) {
				var buf []evidence.Sample
				b.ReportAllocs()
				for b.Loop() {
					if buf = p.AppendSince(buf[:0], from); len(buf) != window {
						b.Fatal("wrong window")
					}
				}
			})
		})
	}
}
