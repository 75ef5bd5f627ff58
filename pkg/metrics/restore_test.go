package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// TestRestoreFromArchive: each plan's newest archived run and its newest
// Succeeded one are shown under the plan's label, runs of another
// namespace (run id prefix) are left out, and nothing is counted.
func TestRestoreFromArchive(t *testing.T) {
	ctx := t.Context()
	a, err := local.New(t.TempDir())
	require.NoError(t, err)
	store := func(rep *report.Report) {
		t.Helper()
		rep.Schema, rep.Series = report.SchemaVersion, []slo.Point{}
		_, err := archive.Store(ctx, a, rep, archive.StoreOptions{KeepDir: t.TempDir()})
		require.NoError(t, err)
	}
	store(succeededRun("recsys.q-1", 0))
	store(finishedRun("recsys.q-2", time.Hour))
	store(succeededRun("other.q-3", 2*time.Hour)) // another namespace's plan of the same name

	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg)
	require.NoError(t, err)
	require.NoError(t, m.RestoreFromArchive(ctx, a, []metrics.ArchivedPlan{{Label: "recsys/quarterly", Plan: "quarterly", RunPrefix: "recsys."}}))

	label := []string{"plan", "recsys/quarterly"}
	require.Equal(t, []float64{1}, series(t, reg, "firedrill_run_last_result", append(label, "phase", "Error", "verdict", "NotJudged")...), "the newest run of the namespace")
	require.Equal(t, []float64{float64(t0.Add(4*time.Minute).UnixMicro()) / 1e6}, series(t, reg, "firedrill_run_last_success_timestamp_seconds", label...),
		"the newest Succeeded run of the namespace")
	require.Equal(t, []float64{float64(t0.Add(time.Hour+5*time.Minute).UnixMicro()) / 1e6}, series(t, reg, "firedrill_run_last_completion_timestamp_seconds", label...))
	for _, v := range series(t, reg, "firedrill_run_finished_total", label...) {
		require.Zero(t, v, "restoring counts nothing")
	}
	require.Empty(t, series(t, reg, "firedrill_run_last_result", "plan", "quarterly"))
	require.Empty(t, series(t, reg, "firedrill_run_last_result", "plan", "other/quarterly"))
}
