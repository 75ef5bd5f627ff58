package serve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
	"github.com/firedrill/firedrill/pkg/cmd/serve"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// okServer is the system under test: it answers every request.
func okServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// drillPlan is a plan on platform none whose fault is a marker file: it
// exists while the fault is in effect.
func drillPlan(name, schedule, endpoint, marker, hold string) string {
	s := fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: none}
  system: {endpoint: %q}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 300ms}}
  steps:
    - {name: baseline, wait: 100ms}
    - name: flag
      fault:
        exec:
          inject: {command: [touch, %q]}
          revert: {command: [rm, -f, %q]}
`, name, endpoint, marker, marker)
	if hold != "" {
		s += "        duration: " + hold + "\n"
	}
	if schedule != "" {
		s += fmt.Sprintf("  schedule: %q\n", schedule)
	}
	return s
}

// service is drill serve on one machine in this process.
type service struct {
	t                     *testing.T
	plans, state, reports string
	app                   *serve.Local
	base, token           string
}

func newService(t *testing.T) *service {
	t.Helper()
	return &service{t: t, plans: t.TempDir(), state: t.TempDir(), reports: t.TempDir()}
}

func (s *service) start(opts serve.LocalOptions) {
	s.t.Helper()
	opts.Plans, opts.StateDir, opts.Archive = s.plans, s.state, archiveflags.Options{Location: s.reports}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	opts.SnapshotInterval = 100 * time.Millisecond
	app, err := serve.NewLocal(opts)
	require.NoError(s.t, err)
	require.NoError(s.t, app.Start(s.t.Context()))
	s.app, s.base = app, app.URL()
	if app.TokenPath() != "" {
		data, err := os.ReadFile(app.TokenPath())
		require.NoError(s.t, err)
		s.token = strings.TrimSpace(string(data))
	}
	s.t.Cleanup(func() { _ = app.Stop(context.Background()) })
}

func (s *service) stop() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(s.t, s.app.Stop(ctx))
}

func (s *service) write(file, content string) {
	s.t.Helper()
	require.NoError(s.t, os.WriteFile(filepath.Join(s.plans, file), []byte(content), 0o644))
}

// call sends a request with the service's token and decodes a JSON answer
// into out (when not nil); it returns the status.
func (s *service) call(method, path, body string, out any) int {
	s.t.Helper()
	return call(s.t, s.base, s.token, method, path, body, out)
}

func call(t *testing.T, base, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

func (s *service) runs(query string) []server.Run {
	s.t.Helper()
	var list server.List[server.Run]
	require.Equal(s.t, http.StatusOK, s.call(http.MethodGet, "/api/v1/runs"+query, "", &list))
	return list.Items
}

// TestLocalEveryPlanFiresAndHistorySurvivesARestart: a plans directory
// with an @every plan on platform none fires, through the real engine;
// its runs and reports are served, and still are after a restart.
func TestLocalEveryPlanFiresAndHistorySurvivesARestart(t *testing.T) {
	s := newService(t)
	marker := filepath.Join(t.TempDir(), "fault")
	s.write("tick.yaml", drillPlan("tick", "@every 2s", okServer(t), marker, ""))
	s.start(serve.LocalOptions{})

	var plans server.List[server.Plan]
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/plans", "", &plans))
	require.Len(t, plans.Items, 1)
	require.Equal(t, "@every 2s", plans.Items[0].Schedule)
	require.NotNil(t, plans.Items[0].NextRun)

	var done server.Run
	require.Eventually(t, func() bool {
		runs := s.runs("?plan=tick&phase=Succeeded")
		if len(runs) > 0 {
			done = runs[0]
		}
		// Its reports are linked once stored, a moment after it ends.
		return len(runs) > 0 && done.Reports != nil
	}, 60*time.Second, 100*time.Millisecond, "a scheduled run succeeds")
	require.Equal(t, v1alpha1.TriggerSchedule, done.Trigger)
	require.Equal(t, v1alpha1.VerdictPass, done.Verdict)
	require.True(t, strings.HasPrefix(done.ID, "tick-"), done.ID)
	require.NoFileExists(t, marker, "the fault was reverted")
	require.Equal(t, map[string]string{
		"json":  "/api/v1/runs/" + done.ID + "/report/json",
		"md":    "/api/v1/runs/" + done.ID + "/report/md",
		"junit": "/api/v1/runs/" + done.ID + "/report/junit",
		"html":  "/api/v1/runs/" + done.ID + "/report/html",
	}, done.Reports)
	var detail server.RunDetail
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/runs/"+done.ID, "", &detail))
	require.Equal(t, v1alpha1.RunSucceeded, detail.Report.Phase)
	require.NotNil(t, detail.Report.Steps[1].Fault.Reverted)

	// The run is in the report archive, as drill run archives it: drill
	// reports list --archive <the same directory> lists it.
	a, err := local.New(s.reports)
	require.NoError(t, err)
	idx, err := a.Index(t.Context())
	require.NoError(t, err)
	e, err := idx.Find(done.ID)
	require.NoError(t, err)
	require.Equal(t, "tick/"+done.ID, e.Path)
	for _, f := range []string{report.JSONFile, report.MarkdownFile, report.JUnitFile, archive.HTMLFile, sums.FileName} {
		require.FileExists(t, filepath.Join(s.reports, "tick", done.ID, f))
	}
	page := s.get(done.Reports["html"])
	require.Contains(t, page, "<section id=\"trend\">", "report.html with the plan's trend")

	// The drill metrics on /metrics, labelled by plan.
	mfs := s.scrape()
	require.GreaterOrEqual(t, sum(mfs, "firedrill_run_finished_total", map[string]string{"plan": "tick", "phase": "Succeeded", "verdict": "Pass"}), 1.0)
	require.Positive(t, sum(mfs, "firedrill_schedule_next_run_timestamp_seconds", map[string]string{"plan": "tick"}))
	require.Equal(t, 1.0, sum(mfs, "firedrill_fault_last_recovered", map[string]string{"plan": "tick", "step": "flag", "type": "exec", "recovery": "failover"}))
	require.Positive(t, sum(mfs, "firedrill_objective_target_seconds", map[string]string{"plan": "tick", "objective": "rto"}))
	s.stop()

	// Restarted without a schedule, so no run finishes after it: the
	// history and the last values come back from the archive; counters
	// start at zero.
	s.write("tick.yaml", drillPlan("tick", "", okServer(t), marker, ""))
	s.start(serve.LocalOptions{})
	runs := s.runs("?verdict=Pass")
	require.True(t, slices.ContainsFunc(runs, func(r server.Run) bool { return r.ID == done.ID }), "the history survives a restart: %v", runs)
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, done.Reports["md"], "", nil))
	mfs = s.scrape()
	// The last run may be one the stop aborted.
	require.Equal(t, 1.0, sum(mfs, "firedrill_run_last_result", map[string]string{"plan": "tick"}), "the last verdict is restored")
	require.Positive(t, sum(mfs, "firedrill_run_last_success_timestamp_seconds", map[string]string{"plan": "tick"}))
	require.Positive(t, sum(mfs, "firedrill_run_last_completion_timestamp_seconds", map[string]string{"plan": "tick"}))
	require.Zero(t, sum(mfs, "firedrill_run_finished_total", map[string]string{"plan": "tick"}))
	require.Zero(t, sum(mfs, "firedrill_schedule_next_run_timestamp_seconds", map[string]string{"plan": "tick"}), "no schedule, no next run")
}

// get reads a page of the API.
func (s *service) get(path string) string {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), http.MethodGet, s.base+path, nil)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// scrape reads /metrics.
func (s *service) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(s.get("/metrics")))
	require.NoError(s.t, err)
	return mfs
}

// sum adds the values of a metric's series that carry labels (a
// histogram's count).
func sum(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	total := 0.0
metric:
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue metric
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestLocalTriggerAbortAndStop: a run triggered through the API injects
// its fault; abort reverts it; stopping drill serve reverts the fault of a
// run in progress and stores the run Aborted.
func TestLocalTriggerAbortAndStop(t *testing.T) {
	s := newService(t)
	marker := filepath.Join(t.TempDir(), "fault")
	s.write("hold.yaml", drillPlan("hold", "", okServer(t), marker, "5m"))
	s.start(serve.LocalOptions{})

	var run server.Run
	require.Equal(t, http.StatusCreated, s.call(http.MethodPost, "/api/v1/runs", `{"plan":"hold"}`, &run))
	require.Equal(t, v1alpha1.TriggerAPI, run.Trigger)
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 30*time.Second, 20*time.Millisecond, "the fault is injected")
	require.Equal(t, http.StatusConflict, s.call(http.MethodPost, "/api/v1/runs", `{"plan":"hold"}`, nil), "Forbid: one run at a time")
	var live server.RunDetail
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/runs/"+run.ID, "", &live))
	require.Equal(t, v1alpha1.RunRunning, live.Phase)
	require.Equal(t, "flag", live.Report.CurrentStep)

	require.Equal(t, http.StatusAccepted, s.call(http.MethodPost, "/api/v1/runs/"+run.ID+"/abort", `{"reason":"test over"}`, nil))
	require.Eventually(t, func() bool {
		runs := s.runs("?phase=Aborted")
		return len(runs) == 1 && runs[0].ID == run.ID
	}, 30*time.Second, 50*time.Millisecond, "the run is aborted and stored")
	require.NoFileExists(t, marker, "abort reverted the fault")
	require.Equal(t, "interrupted: aborted by local through the API: test over; every active fault was reverted", s.runs("?phase=Aborted")[0].Message)

	require.Equal(t, http.StatusCreated, s.call(http.MethodPost, "/api/v1/runs", `{"plan":"hold"}`, &run))
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 30*time.Second, 20*time.Millisecond, "the fault is injected")
	s.stop()
	require.NoFileExists(t, marker, "stopping reverted the fault")
	s.start(serve.LocalOptions{})
	var stopped server.RunDetail
	require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/runs/"+run.ID, "", &stopped))
	require.Equal(t, v1alpha1.RunAborted, stopped.Phase)
	require.Equal(t, "interrupted: drill serve is stopping; every active fault was reverted", stopped.Message)
}

// TestLocalBrokenEditIsReported: the API shows a refused edit as
// file:line:column: field: message, and the plan stays.
func TestLocalBrokenEditIsReported(t *testing.T) {
	s := newService(t)
	endpoint := okServer(t)
	s.write("tick.yaml", drillPlan("tick", "@every 1h", endpoint, filepath.Join(t.TempDir(), "m"), ""))
	s.start(serve.LocalOptions{})
	s.write("tick.yaml", strings.Replace(drillPlan("tick", "@every 1h", endpoint, "m", ""), "rto: 30s", "rto: soon", 1))
	var plan server.Plan
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, s.call(http.MethodGet, "/api/v1/plans/tick", "", &plan))
		return plan.Error != ""
	}, 10*time.Second, 20*time.Millisecond, "the broken edit is reported")
	require.Contains(t, plan.Error, filepath.Join(s.plans, "tick.yaml")+":8:21: spec.objectives.rto: ")
	require.Equal(t, "@every 1h", plan.Schedule)
	require.NotNil(t, plan.NextRun, "the last good version stays scheduled")
}

// TestLocalAuthentication: beyond loopback a token file is required; with
// one, no token is 401, a token without the right 403, one with it 200.
func TestLocalAuthentication(t *testing.T) {
	s := newService(t)
	s.write("p.yaml", drillPlan("p", "", okServer(t), filepath.Join(t.TempDir(), "m"), ""))
	app, err := serve.NewLocal(serve.LocalOptions{Plans: s.plans, StateDir: s.state, Listen: "0.0.0.0:0"})
	require.NoError(t, err)
	require.EqualError(t, app.Start(t.Context()), "--listen 0.0.0.0:0 is beyond loopback: give --token-file with the API's tokens and their rights (or listen on 127.0.0.1)")

	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(tokens, []byte(`tokens:
  - {user: dashboard, token: dashboard-token-0123456789, rights: [read]}
  - {user: ci, token: ci-token-0123456789, rights: [read, trigger]}
`), 0o600))
	s.start(serve.LocalOptions{TokenFile: tokens})
	require.Empty(t, s.app.TokenPath())
	require.NoFileExists(t, filepath.Join(s.state, "serve", "token"), "with a token file no token is made")
	require.Equal(t, http.StatusUnauthorized, call(t, s.base, "", http.MethodGet, "/api/v1/plans", "", nil))
	require.Equal(t, http.StatusOK, call(t, s.base, "dashboard-token-0123456789", http.MethodGet, "/api/v1/plans", "", nil))
	require.Equal(t, http.StatusForbidden, call(t, s.base, "dashboard-token-0123456789", http.MethodPost, "/api/v1/runs", `{"plan":"p"}`, nil))
	require.Equal(t, http.StatusForbidden, call(t, s.base, "ci-token-0123456789", http.MethodGet, "/metrics", "", nil))
	require.Equal(t, http.StatusBadRequest, call(t, s.base, "ci-token-0123456789", http.MethodPost, "/api/v1/runs", `{"plan":"P"}`, nil))
	require.Equal(t, http.StatusNotFound, call(t, s.base, "ci-token-0123456789", http.MethodPost, "/api/v1/runs", `{"plan":"q"}`, nil))
	require.Equal(t, http.StatusOK, call(t, s.base, "", http.MethodGet, "/readyz", "", nil))
	var runs server.List[server.Run]
	require.Equal(t, http.StatusOK, call(t, s.base, "dashboard-token-0123456789", http.MethodGet, "/api/v1/runs", "", &runs))
	require.Empty(t, runs.Items, "refused requests started nothing")
}
