package metrics

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	require.NoError(t, err)
	m.Started(v1alpha1.TriggerSchedule)
	m.Started(v1alpha1.TriggerManual)
	m.Finished(v1alpha1.RunSucceeded)
	m.Missed(v1alpha1.MissedSuperseded, 3)
	m.StatusWrite(nil)
	m.StatusWrite(errors.New("conflict"))
	m.Recovered(nil)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP firedrill_controller_fires_missed_total Schedule fires recorded as missed, by reason (DeadlineExceeded, Superseded).
# TYPE firedrill_controller_fires_missed_total counter
firedrill_controller_fires_missed_total{reason="Superseded"} 3
# HELP firedrill_controller_run_status_writes_total DrillRun status writes of runs in progress, by result (ok, error).
# TYPE firedrill_controller_run_status_writes_total counter
firedrill_controller_run_status_writes_total{result="error"} 1
firedrill_controller_run_status_writes_total{result="ok"} 1
# HELP firedrill_controller_runs_active Drill runs in progress on this replica.
# TYPE firedrill_controller_runs_active gauge
firedrill_controller_runs_active 1
# HELP firedrill_controller_runs_finished_total Drill runs this replica finished, by phase.
# TYPE firedrill_controller_runs_finished_total counter
firedrill_controller_runs_finished_total{phase="Succeeded"} 1
# HELP firedrill_controller_runs_recovered_total Runs a stopped replica left Running that this replica reverted and marked Interrupted, by result (ok, error).
# TYPE firedrill_controller_runs_recovered_total counter
firedrill_controller_runs_recovered_total{result="ok"} 1
# HELP firedrill_controller_runs_started_total Drill runs this replica started, by trigger (manual, schedule, api).
# TYPE firedrill_controller_runs_started_total counter
firedrill_controller_runs_started_total{trigger="manual"} 1
firedrill_controller_runs_started_total{trigger="schedule"} 1
`)))
	_, err = New(reg)
	require.ErrorContains(t, err, "one drill serve per registry")
}
