package serve_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/firedrill/firedrill/pkg/recommender/serve"
)

// BenchmarkRecommendationsHandler measures the in-process cost of one
// /v1/recommendations request (routing, parameters, model, JSON, metrics)
// without the network. FIREDRILL_BENCH_MODEL names a real artifact
// directory; the default is the tiny test model.
func BenchmarkRecommendationsHandler(b *testing.B) {
	dir := os.Getenv("FIREDRILL_BENCH_MODEL")
	if dir == "" {
		dir = savedModel(b, "bench")
	}
	for _, bc := range []struct {
		name  string
		cache int
	}{{"response cache off", -1}, {"response cache on", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, serve.Options{ModelDir: dir, ResponseCacheSize: bc.cache})
			h := s.Handler()
			var sample serve.SampleResponse
			get(b, s, "/v1/sample?n=1000", &sample)
			paths := make([]string, len(sample.Users))
			for i, u := range sample.Users {
				paths[i] = fmt.Sprintf("/v1/recommendations?user=%s&k=10", u)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
