package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/probe"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// tickFixture is a run in the middle of observing a reverted fault, with
// the state analyze reads every tick: a stopped prober holding a few
// thousand samples with an outage in the middle, a capacity series, model
// observations and published models.
type tickFixture struct {
	r                       *run
	af                      *activeFault
	injected, reverted, now time.Time
	// samples is the buffer the observation reuses from tick to tick.
	samples *[]slo.Sample
}

// newTickFixture probes a loopback server at rate req/s for d, taking it
// down (503) for the middle fifth, and builds a run around the prober.
func newTickFixture(tb testing.TB, rate int, d time.Duration) tickFixture {
	tb.Helper()
	var down atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}),
		ReadHeaderTimeout: time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })

	const timeout = 300 * time.Millisecond
	p, err := probe.New(probe.Options{
		Endpoint: "http://" + ln.Addr().String(), Rate: rate, Timeout: timeout,
		Templates: []probe.Template{{Name: "root", Path: "/"}},
	})
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(tb.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	time.Sleep(2 * d / 5)
	down.Store(true)
	time.Sleep(d / 5)
	down.Store(false)
	time.Sleep(2 * d / 5)
	cancel()
	require.NoError(tb, <-errc)

	samples := p.Samples()
	require.NotEmpty(tb, samples)
	first, last := samples[0].At, samples[len(samples)-1].At
	injected := first.Add(2 * d / 5)
	reverted := first.Add(3 * d / 5)
	rpo := time.Minute
	r := &run{
		opts: &Options{}, prober: p, start: first, settle: timeout + 50*time.Millisecond,
		obj: slo.Objectives{
			RTO: 30 * time.Second, RPO: &rpo, Availability: 90, LatencyP99: 250 * time.Millisecond,
			Recovered: slo.Criteria{SuccessRate: 99, LatencyP99: 250 * time.Millisecond, For: d / 10},
		},
		published: []slo.ModelObservation{{Version: "v1", CreatedAt: first.Add(-time.Hour)}},
	}
	// Capacity every 200 ms would be kept only on changes: a handful of
	// points. Model observations are taken every second per replica, here
	// over the 2.5 minutes of a drill that ends with the samples.
	for i := range 20 {
		ready := 3
		if i%2 == 1 {
			ready = 2
		}
		r.capacity = append(r.capacity, slo.CapacityPoint{At: first.Add(time.Duration(i) * d / 20), Workload: "Deployment/ns/recs", Desired: 3, Ready: ready})
	}
	for at := last.Add(-150 * time.Second); at.Before(last); at = at.Add(time.Second) {
		for rep := range 3 {
			r.models = append(r.models, slo.ModelObservation{At: at, Replica: fmt.Sprintf("recs-%d", rep), Version: "v1", CreatedAt: first.Add(-time.Hour)})
		}
	}
	af := &activeFault{
		fault:  platform.Fault{ID: "outage"},
		step:   &v1alpha1.Step{Name: "outage", Fault: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}},
		report: &report.Fault{},
	}
	return tickFixture{r: r, af: af, injected: injected, reverted: reverted, now: last.Add(r.settle + time.Millisecond), samples: new([]slo.Sample)}
}

// tick is the work of one tick of observing a reverted fault that has
// recovered: both analyses of the done function in fault.
func (f tickFixture) tick() (slo.FaultResult, slo.FaultResult) {
	return f.r.analyze(f.af, f.injected, f.reverted, f.now, f.samples), f.r.analyze(f.af, f.reverted, time.Time{}, f.now, f.samples)
}

// TestAnalyzeMatchesAnalyzeFaultOnCopies pins analyze to slo.AnalyzeFault
// given private copies of every input, as analyze once built them, with
// and without a sample buffer, and with a buffer left over from a wider
// window.
func TestAnalyzeMatchesAnalyzeFaultOnCopies(t *testing.T) {
	f := newTickFixture(t, 500, time.Second)
	stale := f.r.prober.Since(time.Time{})
	for i := range stale {
		stale[i].Code = 599
	}
	for _, tt := range []struct {
		name           string
		from, reverted time.Time
	}{
		{name: "from the injection of a reverted fault", from: f.injected, reverted: f.reverted},
		{name: "from the revert", from: f.reverted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.r
			lookback := tt.from.Add(-slo.DefaultBaseline)
			want := slo.AnalyzeFault(slo.FaultInput{
				Name: f.af.fault.ID, Injected: tt.from, Reverted: tt.reverted, End: f.now.Add(-r.settle),
				Samples:               append([]slo.Sample(nil), r.prober.Since(lookback)...),
				Capacity:              append([]slo.CapacityPoint(nil), r.capacity...),
				Models:                append([]slo.ModelObservation(nil), r.models...),
				NewestPublishedBefore: &r.published[0],
			}, r.obj)
			require.NotEmpty(t, want.Verdicts)
			require.Equal(t, want, r.analyze(f.af, tt.from, tt.reverted, f.now, nil), "without a buffer")
			var buf []slo.Sample
			require.Equal(t, want, r.analyze(f.af, tt.from, tt.reverted, f.now, &buf), "with an empty buffer")
			require.Equal(t, r.prober.Since(lookback), buf, "the buffer holds the samples")
			buf = slices.Clone(stale)
			require.Equal(t, want, r.analyze(f.af, tt.from, tt.reverted, f.now, &buf), "with a used buffer")
			require.Equal(t, want, r.analyze(f.af, tt.from, tt.reverted, f.now, &buf), "twice")
		})
	}
}

// TestAnalyzeWhileSamplersAppend runs analyze, which no longer copies the
// capacity series and model observations, while the samplers append to
// them, for the race detector to judge.
func TestAnalyzeWhileSamplersAppend(t *testing.T) {
	f := newTickFixture(t, 200, 500*time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			at := f.injected.Add(time.Duration(i) * time.Millisecond)
			f.r.mu.Lock()
			f.r.keepCapacity([]slo.CapacityPoint{{At: at, Workload: "Deployment/ns/recs", Desired: 3, Ready: 2 + i%2}})
			f.r.models = append(f.r.models, slo.ModelObservation{At: at, Replica: "recs-0", Version: "v1", CreatedAt: f.injected.Add(-time.Hour)})
			f.r.mu.Unlock()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for ticks := 0; ; ticks++ {
		select {
		case <-done:
			require.Positive(t, ticks)
			return
		default:
			f.tick()
		}
	}
}

// BenchmarkObserveTick measures one tick of observing a fault: the two
// analyses of a reverted fault, over about 3,000 samples.
func BenchmarkObserveTick(b *testing.B) {
	f := newTickFixture(b, 2000, 1500*time.Millisecond)
	want1, want2 := f.tick()
	b.ReportAllocs()
	for b.Loop() {
		got1, got2 := f.tick()
		if got1.Recovered != want1.Recovered || got2.Recovered != want2.Recovered {
			b.Fatal("the result changed")
		}
	}
	b.ReportMetric(float64(len(f.r.prober.Since(f.injected.Add(-slo.DefaultBaseline)))), "samples")
}
