package metrics_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/metrics/promtest"
	"github.com/firedrill/firedrill/pkg/report"
)

func TestPushRefuses(t *testing.T) {
	tests := []struct {
		name string
		url  string
		rep  *report.Report
		want string
	}{
		{name: "no URL", rep: finishedRun("r1", 0), want: "a Pushgateway URL is required"},
		{name: "no scheme", url: "pushgateway:9091", rep: finishedRun("r1", 0), want: "want http://host:port"},
		{name: "not a URL, password kept out", url: "http://u:secret@[::1", rep: finishedRun("r1", 0), want: "pushgateway URL: missing ']' in host"},
		{name: "no plan", url: "http://127.0.0.1:9091", rep: &report.Report{}, want: "the report names no plan"},
		{name: "unreachable, password kept out", url: "http://u:secret@127.0.0.1:1", rep: finishedRun("r1", 0), want: "pushing metrics to http://u:xxxxx@127.0.0.1:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := metrics.Push(context.Background(), metrics.PushOptions{URL: tt.url}, tt.rep)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "secret")
		})
	}
}

// TestPushToAPushgateway pushes runs to a real Pushgateway: each push
// replaces the plan's group, so it holds the latest pushed run.
func TestPushToAPushgateway(t *testing.T) {
	pg := promtest.StartPushgateway(t)
	ctx := context.Background()
	opts := metrics.PushOptions{URL: pg.URL}

	require.NoError(t, metrics.Push(ctx, opts, finishedRun("r1", 0)))
	mfs := scrape(t, pg.URL)
	group := map[string]string{"job": metrics.PushJob, "instance": "quarterly", "plan": "quarterly"}
	require.Equal(t, []float64{1}, values(mfs, "firedrill_run_last_result", with(group, "phase", "Error", "verdict", "NotJudged")))
	require.Equal(t, []float64{1}, values(mfs, "firedrill_fault_revert_failures_total", with(group, "step", "dns")))
	require.Equal(t, []float64{2.3}, values(mfs, "firedrill_fault_last_capacity_rto_seconds", with(group, "step", "kill", "recovery", "failover")))
	require.Equal(t, []float64{1.52}, values(mfs, "firedrill_fault_last_recovery_time_seconds", with(group, "step", "cutover", "recovery", "failback")))
	require.Equal(t, []float64{1}, values(mfs, "firedrill_fault_recovery_time_seconds", with(group, "step", "kill", "recovery", "failover")), "the histogram's count")
	require.Empty(t, values(mfs, "firedrill_schedule_next_run_timestamp_seconds", group), "a one-shot run has no schedule")

	require.NoError(t, metrics.Push(ctx, opts, succeededRun("r2", time.Hour)))
	mfs = scrape(t, pg.URL)
	require.Equal(t, []float64{1}, values(mfs, "firedrill_run_last_result", group), "the group holds the latest run only")
	require.Equal(t, []float64{1}, values(mfs, "firedrill_run_last_result", with(group, "phase", "Succeeded", "verdict", "Pass")))
	require.Equal(t, []float64{0}, values(mfs, "firedrill_run_finished_total", with(group, "phase", "Error")))
	require.Equal(t, []float64{0}, values(mfs, "firedrill_fault_revert_failures_total", with(group, "step", "dns")))
	require.Equal(t, []float64{12}, values(mfs, "firedrill_fault_last_service_rto_seconds", with(group, "step", "dns")))
	require.Len(t, values(mfs, "push_time_seconds", map[string]string{"job": metrics.PushJob, "instance": "quarterly"}), 1, "the Pushgateway stamps the push")
}

// TestPromtool: promtool check metrics passes on every golden exposition
// without a lint warning.
func TestPromtool(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Empty(t, promtest.CheckMetrics(t, b), f)
	}
}

// scrape reads a /metrics page.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return mfs
}

// values are the values of a metric's series that carry labels; a
// histogram's value is its count.
func values(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) []float64 {
	var out []float64
	mf := mfs[name]
	if mf == nil {
		return nil
	}
metric:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue metric
			}
		}
		switch {
		case m.GetGauge() != nil:
			out = append(out, m.GetGauge().GetValue())
		case m.GetCounter() != nil:
			out = append(out, m.GetCounter().GetValue())
		case m.GetHistogram() != nil:
			out = append(out, float64(m.GetHistogram().GetSampleCount()))
		case m.GetUntyped() != nil:
			out = append(out, m.GetUntyped().GetValue())
		}
	}
	return out
}

// with is labels plus name, value pairs.
func with(labels map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
