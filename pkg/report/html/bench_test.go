package html_test

import (
	"testing"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
)

// BenchmarkRenderOneHourDrill renders report.html for a one-hour drill at
// 50 requests/s (180,000 samples, 3,600 points per series) with eight
// faults, half of them timed (failover and fail-back).
func BenchmarkRenderOneHourDrill(b *testing.B) {
	r := archivetest.Drill(archivetest.DrillOptions{Duration: time.Hour, Rate: 50, Faults: 8})
	var size int
	for b.Loop() {
		page, err := reporthtml.Render(r, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = len(page)
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}

// BenchmarkRenderQuickstart renders the real quickstart report with the
// trend of its six runs.
func BenchmarkRenderQuickstart(b *testing.B) {
	r, tr := quickstart(b)
	for b.Loop() {
		if _, err := reporthtml.Render(r, tr); err != nil {
			b.Fatal(err)
		}
	}
}
