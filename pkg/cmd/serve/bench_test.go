package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/cmd/serve"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// benchRuns is how many runs the listing benchmarks hold.
const benchRuns = 2000

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixture is a plans directory of 10 plans and an archive of
// benchRuns runs of them, made once per test binary.
func fixture(b *testing.B) (plans, reports string) {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "serve-bench-")
		if fixtureErr != nil {
			return
		}
		fixtureErr = writeFixture(fixtureDir)
	})
	require.NoError(b, fixtureErr)
	return filepath.Join(fixtureDir, "plans"), filepath.Join(fixtureDir, "reports")
}

func writeFixture(dir string) error {
	plans, reports := filepath.Join(dir, "plans"), filepath.Join(dir, "reports")
	if err := os.MkdirAll(plans, 0o755); err != nil {
		return err
	}
	start := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	for p := range 10 {
		name := fmt.Sprintf("plan-%d", p)
		if err := os.WriteFile(filepath.Join(plans, name+".yaml"), []byte(drillPlan(name, "", "http://127.0.0.1:1", "/nonexistent", "")), 0o644); err != nil {
			return err
		}
	}
	// The report sets are written in the archive's layout, then indexed
	// once (Put would rewrite the index for each).
	for i := range benchRuns {
		rep := benchReport(fmt.Sprintf("plan-%d", i%10), i, start.Add(time.Duration(i)*time.Hour))
		files, err := archive.Files(rep, nil)
		if err != nil {
			return err
		}
		for _, f := range files {
			path := filepath.Join(reports, rep.Plan.Name, rep.RunID, f.Name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, f.Data, 0o644); err != nil {
				return err
			}
		}
	}
	a, err := local.New(reports)
	if err != nil {
		return err
	}
	idx, err := a.Index(context.Background())
	if err != nil {
		return err
	}
	if len(idx.Runs) != benchRuns {
		return fmt.Errorf("the fixture archive holds %d runs, not %d (problems: %v)", len(idx.Runs), benchRuns, idx.Problems)
	}
	return nil
}

// benchReport is a finished run with two steps, passing three times in
// four.
func benchReport(plan string, i int, start time.Time) *report.Report {
	s, e := metav1.NewMicroTime(start), metav1.NewMicroTime(start.Add(3*time.Minute))
	r := &report.Report{Schema: report.SchemaVersion, RunID: fmt.Sprintf("%s-%s-%03d-%04x", plan, start.Format("20060102-150405"), i%1000, i),
		Plan: report.Plan{Name: plan, Hash: strings.Repeat("a", 64)}, Platform: "none", Trigger: v1alpha1.TriggerSchedule, Series: []slo.Point{}}
	r.Phase, r.Verdict, r.WorstRecovery = v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "12.1s/30s"
	if i%4 == 3 {
		r.Phase, r.Verdict, r.WorstRecovery, r.Message = v1alpha1.RunFailed, v1alpha1.VerdictFail, "not recovered/30s", ""
	}
	r.StartTime, r.CompletionTime = &s, &e
	r.Steps = []v1alpha1.StepResult{{Name: "baseline", Kind: v1alpha1.StepWait, Phase: v1alpha1.RunSucceeded, StartTime: &s, CompletionTime: &s}}
	return r
}

// benchService starts drill serve on the fixture and returns its URL and
// token.
func benchService(b *testing.B) (string, string) {
	b.Helper()
	plans, reports := fixture(b)
	state := b.TempDir()
	app, err := serve.NewLocal(serve.LocalOptions{Plans: plans, StateDir: state, Archive: archiveflags.Options{Location: reports}, Listen: "127.0.0.1:0"})
	require.NoError(b, err)
	require.NoError(b, app.Start(b.Context()))
	b.Cleanup(func() { _ = app.Stop(context.Background()) })
	token, err := os.ReadFile(app.TokenPath())
	require.NoError(b, err)
	return app.URL(), strings.TrimSpace(string(token))
}

// benchmarkList lists runs through the API over loopback, a request at a
// time, and reports the p50 and p99 latency of a whole request (sent,
// answered, body read) and the body's size.
func benchmarkList(b *testing.B, query string, want int) {
	b.Helper()
	base, token := benchService(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func() (int, int) {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, base+"/api/v1/runs"+query, nil)
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		require.NoError(b, err)
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		return resp.StatusCode, int(n)
	}
	code, size := get()
	require.Equal(b, http.StatusOK, code)
	require.Equal(b, want, strings.Count(queryRuns(b, base, token, query), `"id":`))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		if code, _ := get(); code != http.StatusOK {
			b.Fatalf("status %d", code)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(size), "body-bytes")
}

func queryRuns(b *testing.B, base, token, query string) string {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, base+"/api/v1/runs"+query, nil)
	require.NoError(b, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	return string(data)
}

// BenchmarkListRuns2000 lists all 2,000 runs: GET /api/v1/runs.
func BenchmarkListRuns2000(b *testing.B) { benchmarkList(b, "", benchRuns) }

// BenchmarkListRunsOfAPlanThatPassed lists the 100 passing runs of one
// plan (a run in four fails): GET /api/v1/runs?plan=plan-3&verdict=Pass.
func BenchmarkListRunsOfAPlanThatPassed(b *testing.B) {
	benchmarkList(b, "?plan=plan-3&verdict=Pass", 100)
}

// BenchmarkListPlans lists the 10 plans with their last runs.
func BenchmarkListPlans(b *testing.B) {
	base, token := benchService(b)
	b.ResetTimer()
	for b.Loop() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, base+"/api/v1/plans", nil)
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}
