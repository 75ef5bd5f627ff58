package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports the CPU time per op besides the wall
// time: on a shared machine the wall time says more about the neighbours.
func loop(b *testing.B, f func()) {
	b.Helper()
	b.ReportAllocs()
	start, n := cpuTime(b), 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(n)/1e6, "cpu-ms/op")
}

// BenchmarkIndex renders the index over 200 plans of 20 finished runs
// each, their summaries cached (every load after the first).
func BenchmarkIndex(b *testing.B) {
	d := newDashboard(b, large(200, 20))
	serve(b, d, "/") // fills the cache
	loop(b, func() { serve(b, d, "/") })
}

// BenchmarkIndexCold is the first load: 4,000 summaries derived from
// their reports (the fake Backend's reports are already decoded; a real
// one reads and decodes each report.json too).
func BenchmarkIndexCold(b *testing.B) {
	backend := large(200, 20)
	loop(b, func() { serve(b, newDashboard(b, backend), "/") })
}

// BenchmarkPlan renders one plan's page: three trend charts over its 20
// runs, drawn with gonum/plot.
func BenchmarkPlan(b *testing.B) {
	d := newDashboard(b, large(200, 20))
	serve(b, d, "/plans/plan-100")
	loop(b, func() { serve(b, d, "/plans/plan-100") })
}

func serve(b *testing.B, h http.Handler, path string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+tokenReader)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d", path, rec.Code)
	}
	b.SetBytes(int64(rec.Body.Len()))
}
