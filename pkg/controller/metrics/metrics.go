package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Metrics are the controllers' metrics. The zero value is not usable: use
// New.
type Metrics struct {
	started      *prometheus.CounterVec
	finished     *prometheus.CounterVec
	active       prometheus.Gauge
	missed       *prometheus.CounterVec
	statusWrites *prometheus.CounterVec
	recovered    *prometheus.CounterVec
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firedrill_controller_runs_started_total",
			Help: "Drill runs this replica started, by trigger (manual, schedule, api).",
		}, []string{"trigger"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firedrill_controller_runs_finished_total",
			Help: "Drill runs this replica finished, by phase.",
		}, []string{"phase"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firedrill_controller_runs_active",
			Help: "Drill runs in progress on this replica.",
		}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firedrill_controller_fires_missed_total",
			Help: "Schedule fires recorded as missed, by reason (DeadlineExceeded, Superseded).",
		}, []string{"reason"}),
		statusWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firedrill_controller_run_status_writes_total",
			Help: "DrillRun status writes of runs in progress, by result (ok, error).",
		}, []string{"result"}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firedrill_controller_runs_recovered_total",
			Help: "Runs a stopped replica left Running that this replica reverted and marked Interrupted, by result (ok, error).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.started, m.finished, m.active, m.missed, m.statusWrites, m.recovered} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering controller metrics (one drill serve per registry): %w", err)
			}
			return nil, fmt.Errorf("registering controller metrics: %w", err)
		}
	}
	return m, nil
}

// Started counts a run started.
func (m *Metrics) Started(trigger v1alpha1.Trigger) {
	m.started.WithLabelValues(string(trigger)).Inc()
	m.active.Inc()
}

// Finished counts a run this replica started as finished in phase.
func (m *Metrics) Finished(phase v1alpha1.RunPhase) {
	m.finished.WithLabelValues(string(phase)).Inc()
	m.active.Dec()
}

// Missed counts fires recorded as missed.
func (m *Metrics) Missed(reason v1alpha1.MissedReason, n int) {
	m.missed.WithLabelValues(string(reason)).Add(float64(n))
}

// StatusWrite counts a status write of a run in progress.
func (m *Metrics) StatusWrite(err error) { m.statusWrites.WithLabelValues(result(err)).Inc() }

// Recovered counts an attempt to recover an interrupted run.
func (m *Metrics) Recovered(err error) { m.recovered.WithLabelValues(result(err)).Inc() }

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
