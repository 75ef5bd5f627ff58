package cmd

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/metrics/promtest"
)

// TestRunPushesItsMetricsToAPushgateway: drill run --pushgateway pushes
// the run's metrics, grouped by job firedrill and the plan, to a real
// Pushgateway once the report is stored.
func TestRunPushesItsMetricsToAPushgateway(t *testing.T) {
	pg := promtest.StartPushgateway(t)
	reports := t.TempDir()
	plan := shortPlan(t, "pushed", okServer(t), filepath.Join(t.TempDir(), "flag"))
	run, out := drillProcess(t, "run", "--state-dir", t.TempDir(), "--archive", reports, "--pushgateway", pg.URL, plan)
	_ = run.Run() // the verdict is not the point: a loaded machine may miss the baseline
	require.NotEqual(t, 2, run.ProcessState.ExitCode(), out.String())
	dirs, err := os.ReadDir(filepath.Join(reports, "pushed"))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "the report is stored")

	resp, err := http.Get(pg.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)
	last := mfs["firedrill_run_last_result"]
	require.NotNil(t, last, "the run's metrics were pushed:\n%s", body)
	require.Len(t, last.GetMetric(), 1)
	labels := map[string]string{}
	for _, lp := range last.GetMetric()[0].GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	require.Equal(t, "firedrill", labels["job"])
	require.Equal(t, "pushed", labels["instance"])
	require.Equal(t, "pushed", labels["plan"])
	require.NotEmpty(t, labels["verdict"])
	require.Contains(t, mfs, "firedrill_fault_last_recovered", "the exec fault's recovery was pushed")
}

// TestAFailedPushExitsTwoAndKeepsTheReport: a Pushgateway that cannot be
// reached is reported and exits 2, after the report was stored.
func TestAFailedPushExitsTwoAndKeepsTheReport(t *testing.T) {
	reports := t.TempDir()
	plan := shortPlan(t, "unpushed", okServer(t), filepath.Join(t.TempDir(), "flag"))
	run, out := drillProcess(t, "run", "--state-dir", t.TempDir(), "--archive", reports, "--pushgateway", "http://127.0.0.1:1", plan)
	require.Error(t, run.Run())
	require.Equal(t, 2, run.ProcessState.ExitCode(), out.String())
	require.Contains(t, out.String(), "pushing metrics to http://127.0.0.1:1: ")
	require.Contains(t, out.String(), "report: ")
	dirs, err := os.ReadDir(filepath.Join(reports, "unpushed"))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "the report is stored")
}
