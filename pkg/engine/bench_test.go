package engine

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/engine/internal/runstate"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/probe"
)

// sliceProber serves recorded samples, ordered by send time.
type sliceProber struct{ samples []evidence.Sample }

func (p *sliceProber) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (p *sliceProber) AppendSince(dst []evidence.Sample, t time.Time) []evidence.Sample {
	i := sort.Search(len(p.samples), func(i int) bool { return !p.samples[i].At.Before(t) })
	return append(dst, p.samples[i:]...)
}

// BenchmarkObserveTick is the loop's per-tick work while a fault's
// fail-back is observed: a minute of samples at 50 req/s with a 503
// outage in the middle, a capacity series and the recovery check. Before
// the library rewrite the same check measured 0.80–0.95 ms per tick.
func BenchmarkObserveTick(b *testing.B) {
	clk := clocktesting.NewFakeClock(t0)
	sut := &fakeSUT{}
	inj := t0.Add(24 * time.Second)
	sut.down(inj.Add(100*time.Millisecond), 12*time.Second)
	samples := (&fakeProber{clk: clocktesting.NewFakeClock(t0.Add(time.Minute)), sut: sut, start: t0, interval: 20 * time.Millisecond}).AppendSince(nil, t0)
	e, err := New(Options{JournalDir: b.TempDir(), Clock: clk,
		NewProber: func(probe.Options) (Prober, error) { return &sliceProber{samples: samples}, nil }})
	require.NoError(b, err)
	p := loadTestPlan(b, objectives+`  steps:
    - {name: baseline, wait: 2s}
    - name: drain
      fault:
        nodeDrain: {mode: one}
`)
	pf := newFakePlatform(clk)
	pf.capacity = func(now time.Time) []evidence.CapacityPoint {
		ready := 3
		if now.After(inj) && now.Before(inj.Add(15*time.Second)) {
			ready = 2
		}
		return []evidence.CapacityPoint{{At: now, Workload: "Deployment/recommender", Desired: 3, Ready: ready}}
	}
	r, ctx, err := e.prepare(context.Background(), p, RunOptions{Platform: pf, RunID: "bench"})
	require.NoError(b, err)
	require.True(b, r.setup(ctx))
	f := r.st.Faults[1]
	f.Phase, f.InjectedAt, f.ImpactFrom = runstate.FaultFailback, inj, inj
	f.RevertStarted, f.Reverted, f.RevertFrom = inj, inj, inj
	for now := t0; now.Before(t0.Add(time.Minute)); now = now.Add(200 * time.Millisecond) {
		clk.SetTime(now)
		r.keepCapacity(pf.capacity(now))
	}
	r.st.CapacityAt = t0.Add(time.Minute)
	now := t0.Add(time.Minute)
	clk.SetTime(now)
	var buf []evidence.Sample
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf = r.observe(ctx, now, buf)
	}
	b.StopTimer()
	r.lock.Release()
}
