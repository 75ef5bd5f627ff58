package slo

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// oneHourDrill is a one-hour drill at 50 req/s (180,000 samples) with a
// 5 s outage at the half hour, plus a capacity series, as AnalyzeFault
// would receive it from an engine that passes every sample of the drill.
func oneHourDrill() (FaultInput, Objectives) {
	inj := 30 * time.Minute
	phases := []phase{
		healthy(inj),
		{Until: dur(inj + 5*time.Second), FailRate: 1, Err: evidence.ClassRefused, FailLatency: dur(time.Millisecond)},
		healthy(time.Hour),
	}
	in := FaultInput{
		Name: "one-hour", Start: t0.Add(inj), End: t0.Add(inj + 2*time.Minute),
		Samples: generate(rate, 1, phases),
		Capacity: []evidence.CapacityPoint{
			{At: t0, Workload: "a", Desired: 3, Ready: 3},
			{At: t0.Add(inj), Workload: "a", Desired: 3, Ready: 0},
			{At: t0.Add(inj + 8*time.Second), Workload: "a", Desired: 3, Ready: 3},
		},
	}
	return in, recoveredCriteria()
}

func BenchmarkAnalyzeFaultOneHour(b *testing.B) {
	in, obj := oneHourDrill()
	b.ReportAllocs()
	for b.Loop() {
		res := measure(in, obj)
		if res.recoveryTime == nil {
			b.Fatal("not recovered")
		}
	}
}

// BenchmarkAnalyzeFaultOneHourNeverRecovers is the worst case: a 30 %
// partial outage that lasts the whole hour, so every good sample is tried
// as the start of a window.
func BenchmarkAnalyzeFaultOneHourNeverRecovers(b *testing.B) {
	phases := []phase{healthy(time.Minute), {Until: dur(time.Hour), FailRate: 0.3, Code: 503, Latency: dur(5 * time.Millisecond)}}
	in := FaultInput{Name: "worst", Start: t0.Add(time.Minute), End: t0.Add(time.Hour), Samples: generate(rate, 1, phases)}
	obj := recoveredCriteria()
	b.ReportAllocs()
	for b.Loop() {
		if AnalyzeFault(in, obj).Recovered {
			b.Fatal("recovered")
		}
	}
}

func BenchmarkStatsOneHour(b *testing.B) {
	in, _ := oneHourDrill()
	b.ReportAllocs()
	for b.Loop() {
		Stats(in.Samples, t0, t0.Add(time.Hour), 250*time.Millisecond)
	}
}
