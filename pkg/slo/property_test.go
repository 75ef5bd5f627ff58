package slo

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var outcomes = []struct {
	code int
	err  ErrorClass
}{{200, ""}, {200, ""}, {200, ""}, {204, ""}, {302, ""}, {404, ""}, {503, ""}, {0, ClassTimeout}, {0, ClassRefused}, {0, ClassReset}}

// fromBytes decodes arbitrary bytes into a fault input: samples, capacity
// points and model observations at millisecond offsets over about a minute.
func fromBytes(data []byte) (FaultInput, Objectives) {
	next := func(n int) uint64 {
		var b [8]byte
		k := copy(b[:], data[:min(n, len(data))])
		data = data[k:]
		return binary.LittleEndian.Uint64(b[:])
	}
	in := FaultInput{Name: "fuzz", Injected: t0.Add(time.Duration(next(2)%20000) * time.Millisecond)}
	in.End = in.Injected.Add(time.Duration(next(2)%60000) * time.Millisecond)
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
			in.Capacity = append(in.Capacity, CapacityPoint{
				At: t0.Add(time.Duration(next(2)%80000) * time.Millisecond), Workload: string(rune('a' + next(1)%3)),
				Desired: int(next(1) % 4), Ready: int(next(1) % 4),
			})
		case 1:
			if in.NewestPublishedBefore == nil {
				in.NewestPublishedBefore = &ModelObservation{CreatedAt: t0.Add(-time.Duration(next(2)) * time.Minute)}
			}
			in.Models = append(in.Models, ModelObservation{
				At: t0.Add(time.Duration(next(2)%80000) * time.Millisecond), Replica: "r",
				CreatedAt: t0.Add(-time.Duration(next(2)) * time.Minute), Fallback: next(1)%7 == 0,
			})
		default:
			o := outcomes[next(1)%uint64(len(outcomes))]
			in.Samples = append(in.Samples, Sample{
				At:      t0.Add(time.Duration(next(3)%80000000) * time.Microsecond),
				Latency: time.Duration(next(2)%2000) * time.Millisecond,
				Code:    o.code, Err: o.err,
			})
		}
	}
	return in, obj
}

// checkInvariants asserts what must hold for any input.
func checkInvariants(t *testing.T, in FaultInput, res FaultResult) {
	t.Helper()
	ins := res.Instants
	require.Equal(t, in.Injected, ins.Injected)
	order := []*time.Time{&ins.Injected, ins.Impact, ins.Serving, ins.Recovered}
	var prev *time.Time
	for _, cur := range order {
		if cur == nil {
			continue
		}
		if prev != nil {
			require.False(t, cur.Before(*prev), "instants out of order: %+v", ins)
		}
		prev = cur
	}
	if ins.Impact != nil && ins.Recovered != nil {
		require.NotNil(t, ins.Serving, "recovered after an impact implies serving")
	}
	if ins.Ready != nil {
		require.False(t, ins.Ready.Before(in.Injected))
	}
	for _, d := range []*time.Duration{res.ServiceRTO, res.CapacityRTO, res.RecoveryTime, res.RPO} {
		if d != nil {
			require.GreaterOrEqual(t, *d, time.Duration(0))
		}
	}
	if res.RecoveryTime != nil {
		require.True(t, res.Recovered)
		require.GreaterOrEqual(t, *res.RecoveryTime, *res.ServiceRTO)
		if res.CapacityRTO != nil {
			require.GreaterOrEqual(t, *res.RecoveryTime, *res.CapacityRTO)
		}
	}
	if res.Pass {
		require.True(t, res.Recovered)
	}
	require.Equal(t, res.During.To, res.After.From)
	for _, w := range []WindowStats{res.Before, res.During, res.After} {
		require.LessOrEqual(t, w.Failures, w.Requests)
		require.LessOrEqual(t, w.Timeouts, w.Failures)
		require.True(t, w.P50 <= w.P90 && w.P90 <= w.P99 && w.P99 <= w.Max, "%+v", w)
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
		res := AnalyzeFault(in, obj)
		checkInvariants(t, in, res)
		// Pure: the same input gives the same answer, and it is not modified.
		before := append([]Sample(nil), in.Samples...)
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
				Name: "random", Injected: t0.Add(time.Duration(rng.Int64N(int64(until)))),
				End: t0.Add(until), Samples: generate(50, rng.Uint64(), phases),
			}
			obj = recoveredCriteria()
			obj.Recovered.For = time.Duration(rng.IntN(3000)) * time.Millisecond
		}
		res := AnalyzeFault(in, obj)
		checkInvariants(t, in, res)
	}
}
