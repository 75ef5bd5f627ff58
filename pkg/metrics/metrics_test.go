package metrics_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// next is the quarterly plan's next fire in the fixtures.
var next = time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC)

// TestExposition compares the exposition after each sequence of calls
// with its golden file (refresh with -update).
func TestExposition(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		calls  func(m *metrics.Metrics)
	}{
		{
			name: "a known plan has its counters and histograms at zero and its next run", golden: "plan.txt",
			calls: func(m *metrics.Metrics) { s := spec(); m.SetPlan("quarterly", &s, next) },
		},
		{
			name: "a live run is active with its injected fault in effect", golden: "live.txt",
			calls: func(m *metrics.Metrics) {
				s := spec()
				m.SetPlan("quarterly", &s, next)
				m.RunUpdated(liveRun("r1", 0))
			},
		},
		{
			name: "a finished run is counted once, observed and shown, and is no longer active", golden: "finished.txt",
			calls: func(m *metrics.Metrics) {
				s := spec()
				m.SetPlan("quarterly", &s, next)
				m.RunUpdated(liveRun("r1", 0))
				m.RunFinished(finishedRun("r1", 0))
				m.RunFinished(finishedRun("r1", 0))
				m.RunUpdated(liveRun("r1", 0)) // a late snapshot
			},
		},
		{
			name: "restored reports show the newest run and the newest success, counting nothing", golden: "restored.txt",
			calls: func(m *metrics.Metrics) {
				m.Restore(finishedRun("r2", time.Hour))
				m.Restore(succeededRun("r1", 0))
				m.Restore(liveRun("r3", 2*time.Hour)) // not final: ignored
			},
		},
		{
			name: "aborts count their cause; the last result is the latest completion", golden: "aborted.txt",
			calls: func(m *metrics.Metrics) {
				m.RunFinished(abortedRun("r1", 0, v1alpha1.VerdictFail))
				m.RunFinished(abortedRun("r2", time.Hour, v1alpha1.VerdictNotJudged))
				m.RunFinished(succeededRun("r0", -time.Hour)) // completed before both: only its success shows
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			m, err := metrics.New(reg)
			require.NoError(t, err)
			tt.calls(m)
			path := filepath.Join("testdata", tt.golden)
			if golden.Updating() {
				golden.Assert(t, path, exposition(t, reg))
			}
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, testutil.GatherAndCompare(reg, f))
		})
	}
}

// exposition is the registry's text exposition.
func exposition(t *testing.T, g prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	return buf.Bytes()
}

func TestSetPlan(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg)
	require.NoError(t, err)
	s := spec()
	m.SetPlan("quarterly", &s, next)
	m.RunFinished(finishedRun("r1", 0))

	// The cutover step is renamed and the schedule suspended.
	s.Steps[2].Name = "cutover-east"
	m.SetPlan("quarterly", &s, time.Time{})
	require.Empty(t, series(t, reg, "firedrill_schedule_next_run_timestamp_seconds"), "no next run while suspended")
	require.Equal(t, []float64{0}, series(t, reg, "firedrill_fault_active", "step", "cutover-east"), "the renamed step has its series at zero")
	require.Empty(t, series(t, reg, "firedrill_fault_active", "step", "cutover"), "the old step's series are gone")
	require.Empty(t, series(t, reg, "firedrill_fault_recovery_time_seconds", "step", "cutover"))
	require.Empty(t, series(t, reg, "firedrill_fault_revert_failures_total", "step", "cutover"))
	require.ElementsMatch(t, []float64{0, 1.52}, series(t, reg, "firedrill_fault_last_recovery_time_seconds", "step", "cutover"), "the last run is still shown as it ran")

	m.DeletePlan("quarterly")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Empty(t, mfs, "a deleted plan leaves no series")
}

// series are the values of the series of a metric that have the labels
// (name, value pairs), in exposition order; a histogram's value is its
// count.
func series(t *testing.T, g prometheus.Gatherer, name string, labels ...string) []float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var out []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, mt := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range mt.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue metric
				}
			}
			switch {
			case mt.GetGauge() != nil:
				out = append(out, mt.GetGauge().GetValue())
			case mt.GetCounter() != nil:
				out = append(out, mt.GetCounter().GetValue())
			case mt.GetHistogram() != nil:
				out = append(out, float64(mt.GetHistogram().GetSampleCount()))
			}
		}
	}
	return out
}

func TestNewTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := metrics.New(reg)
	require.NoError(t, err)
	_, err = metrics.New(reg)
	require.ErrorContains(t, err, "one drill serve per registry")
}

// TestConcurrentRuns: overlapping runs of one plan (concurrencyPolicy
// Allow) count as two active runs with the fault in effect twice, and
// leave nothing active once both finished; calls from many goroutines
// race on nothing (run with -race).
func TestConcurrentRuns(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg)
	require.NoError(t, err)
	m.RunUpdated(liveRun("a", 0))
	m.RunUpdated(liveRun("b", time.Second))
	require.Equal(t, []float64{2}, series(t, reg, "firedrill_fault_active", "step", "cutover"))
	require.Equal(t, []float64{2}, series(t, reg, "firedrill_run_active"))

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("run-%d", i)
			m.RunUpdated(liveRun(id, time.Duration(i)*time.Minute))
			m.RunFinished(finishedRun(id, time.Duration(i)*time.Minute))
			_, err := reg.Gather()
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	m.RunFinished(finishedRun("a", 0))
	m.RunFinished(succeededRun("b", time.Second))
	require.Equal(t, []float64{0}, series(t, reg, "firedrill_fault_active", "step", "cutover"))
	require.Equal(t, []float64{0}, series(t, reg, "firedrill_run_active"))
	require.Equal(t, []float64{21}, series(t, reg, "firedrill_run_finished_total", "phase", "Error"))
	require.Equal(t, []float64{1}, series(t, reg, "firedrill_run_finished_total", "phase", "Succeeded"))
	require.Equal(t, []float64{22}, series(t, reg, "firedrill_run_duration_seconds"))
}
