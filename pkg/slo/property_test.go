package slo

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

var outcomes = []struct {
	code int
	err  evidence.ErrorClass
}{{200, ""}, {200, ""}, {200, ""}, {204, ""}, {302, ""}, {404, ""}, {503, ""}, {0, evidence.ClassTimeout}, {0, evidence.ClassRefused}, {0, evidence.ClassReset}}

// fromBytes decodes arbitrary bytes into a fault input: samples, capacity
// points and model observations at millisecond offsets over about a minute.
func fromBytes(data []byte) (FaultInput, Objectives) {
	next := func(n int) uint64 {
		var b [8]byte
		k := copy(b[:], data[:min(n, len(data))])
		data = data[k:]
		return binary.LittleEndian.Uint64(b[:])
	}
	in := FaultInput{Name: "fuzz", Start: t0.Add(time.Duration(next(2)%20000) * time.Millisecond)}
	in.End = in.Start.Add(time.Duration(next(2)%60000) * time.Millisecond)
	if next(1)%5 == 0 {
		in.End = time.Time{}
	}
	obj := Objectives{
		RTO: time.Duration(next(2)%60000) * time.Millisecond,
		Recovered: Criteria{
			SuccessRate: float64(next(1) % 101),
			LatencyP99:  time.Duration(next(2)%1000) * time.Millisecond,
			For:         time.Duration(next(2)%20000) * time.Millisecond,
		},
	}
	if next(1)%2 == 0 {
		obj.RPO = durPtr(time.Duration(next(2)) * time.Second)
	}
	for len(data) > 0 {
		switch kind := next(1) % 8; kind {
		case 0:
			in.Capacity = append(in.Capacity, evidence.CapacityPoint{
				At: t0.Add(time.Duration(next(2)%80000) * time.Millisecond), Workload: string(rune('a' + next(1)%3)),
				Desired: int(next(1) % 4), Ready: int(next(1) % 4),
			})
		case 1:
			if in.NewestPublishedBefore == nil {
				in.NewestPublishedBefore = &evidence.ModelObservation{CreatedAt: t0.Add(-time.Duration(next(2)) * time.Minute)}
			}
			in.Models = append(in.Models, evidence.ModelObservation{
				At: t0.Add(time.Duration(next(2)%80000) * time.Millisecond), Replica: "r",
				CreatedAt: t0.Add(-time.Duration(next(2)) * time.Minute), Fallback: next(1)%7 == 0,
			})
		default:
			o := outcomes[next(1)%uint64(len(outcomes))]
			in.Samples = append(in.Samples, evidence.Sample{
				At:      t0.Add(time.Duration(next(3)%80000000) * time.Microsecond),
				Latency: time.Duration(next(2)%2000) * time.Millisecond,
				Code:    o.code, Err: o.err,
			})
		}
	}
	return in, obj
}

// checkInvariants asserts what must hold for any input, of the
// measurement and of the Recovery reported from it.
func checkInvariants(t *testing.T, in FaultInput, obj Objectives) {
	t.Helper()
	res := measure(in, obj)
	require.False(t, res.start.After(in.Start), "the clock never starts after Start")
	order := []*time.Time{&res.start, res.impact, res.serving, res.recovered}
	var prev *time.Time
	for _, cur := range order {
		if cur == nil {
			continue
		}
		if prev != nil {
			require.False(t, cur.Before(*prev), "instants out of order: %+v", res)
		}
		prev = cur
	}
	if res.impact != nil && res.recovered != nil {
		require.NotNil(t, res.serving, "recovered after an impact implies serving")
	}
	if res.ready != nil {
		require.False(t, res.ready.Before(res.start))
	}
	for _, d := range []*time.Duration{res.serviceRTO, res.capacityRTO, res.recoveryTime, res.rpo.rpo} {
		if d != nil {
			require.GreaterOrEqual(t, *d, time.Duration(0))
		}
	}
	if res.recoveryTime != nil {
		require.GreaterOrEqual(t, *res.recoveryTime, *res.serviceRTO)
		if res.capacityRTO != nil {
			require.GreaterOrEqual(t, *res.recoveryTime, *res.capacityRTO)
		}
	}
	require.Equal(t, res.during.to, res.after.from)
	for _, w := range []window{res.before, res.during, res.after} {
		require.LessOrEqual(t, w.failures, w.requests)
		require.LessOrEqual(t, w.timeouts, w.failures)
		require.True(t, w.p50 <= w.p90 && w.p90 <= w.p99 && w.p99 <= w.max, "%+v", w)
	}
	rec := AnalyzeFault(in, obj)
	require.Equal(t, res.recoveryTime != nil, rec.Recovered)
	if Recovered(in, obj) {
		require.NotNil(t, res.recoveryTime, "Recovered implies a recovery time")
	}
	if rec.Verdict == v1alpha1.VerdictPass {
		require.True(t, rec.Recovered)
	}
}

func FuzzAnalyzeFault(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x10, 0x27, 0x30, 0x75, 0xff, 0x63, 0xfa, 0x00, 0x10, 0x27, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := make([]byte, 64+rng.IntN(512))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, obj := fromBytes(data)
		checkInvariants(t, in, obj)
		res := AnalyzeFault(in, obj)
		// Pure: the same input gives the same answer, and it is not modified.
		before := append([]evidence.Sample(nil), in.Samples...)
		require.Equal(t, res, AnalyzeFault(in, obj))
		require.Equal(t, before, in.Samples)
	})
}

func TestAnalyzeFaultInvariantsHoldForRandomDrills(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	for i := range 300 {
		// Mix realistic phase-based drills with raw noise.
		var in FaultInput
		var obj Objectives
		if i%2 == 0 {
			b := make([]byte, rng.IntN(4096))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			in, obj = fromBytes(b)
		} else {
			var phases []phase
			until := time.Duration(0)
			for range 1 + rng.IntN(6) {
				until += time.Duration(rng.IntN(5000)+100) * time.Millisecond
				o := outcomes[rng.IntN(len(outcomes))]
				phases = append(phases, phase{
					Until: dur(until), Latency: dur(time.Duration(rng.IntN(600)) * time.Millisecond),
					FailRate: rng.Float64() * float64(rng.IntN(2)), Code: o.code, Err: o.err,
				})
			}
			in = FaultInput{
				Name: "random", Start: t0.Add(time.Duration(rng.Int64N(int64(until)))),
				End: t0.Add(until), Samples: generate(50, rng.Uint64(), phases),
			}
			obj = recoveredCriteria()
			obj.Recovered.For = time.Duration(rng.IntN(3000)) * time.Millisecond
		}
		checkInvariants(t, in, obj)
	}
}
