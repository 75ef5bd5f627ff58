package metrics

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label names. Every value is bounded by the plans a drill serve knows.
const (
	// LabelPlan is the plan's name.
	LabelPlan = "plan"
	// LabelStep is a fault step's name; empty for a run-wide window.
	LabelStep = "step"
	// LabelType is a fault's type: podKill, nodeDrain, gpuFailure, regionCutover,
	// modelStoreOutage, exec or chaosMesh; empty for a run-wide window.
	LabelType = "type"
	// LabelRecovery is RecoveryFailover or RecoveryFailback.
	LabelRecovery = "recovery"
	// LabelWindow is what an objective verdict judged: WindowBaseline,
	// WindowFinal, WindowOverall, or a recovery (RecoveryFailover,
	// RecoveryFailback).
	LabelWindow = "window"
	// LabelObjective is rto, failbackRTO, rpo, availability or latencyP99.
	LabelObjective = "objective"
	// LabelPhase is a finished run's phase: Succeeded, Failed, Aborted or
	// Error.
	LabelPhase = "phase"
	// LabelVerdict is Pass, Fail or NotJudged.
	LabelVerdict = "verdict"
	// LabelCause is why a run was aborted: CauseCondition or
	// CauseInterrupted.
	LabelCause = "cause"
)

// Values of the recovery and window labels.
const (
	// RecoveryFailover is the recovery from a fault itself.
	RecoveryFailover = "failover"
	// RecoveryFailback is the recovery from a fault's revert.
	RecoveryFailback = "failback"
	// WindowBaseline is the steady state before the first fault.
	WindowBaseline = "baseline"
	// WindowFinal is the steady state after the last fault.
	WindowFinal = "final"
	// WindowOverall is the whole drill.
	WindowOverall = "overall"
)

// Values of the cause label.
const (
	// CauseCondition: the plan's abort condition tripped (verdict Fail).
	CauseCondition = "condition"
	// CauseInterrupted: the run was stopped on request, by a signal, an
	// API abort or a shutdown (verdict NotJudged).
	CauseInterrupted = "interrupted"
)

// RTOBuckets are the buckets of the recovery histograms, in seconds. They
// put a bound at the usual objectives (15s, 30s, 60s, 2m, 5m), so the
// share of recoveries within an objective reads from one bucket.
var RTOBuckets = []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800}

// DurationBuckets are the buckets of the run duration histogram, in
// seconds: from a one-minute sandbox drill to a two-hour cluster drill.
var DurationBuckets = []float64{10, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200}

// finishedMemory is how many finished run ids RunFinished remembers, so
// that a second call for the same run counts nothing.
const finishedMemory = 1024

// Metrics are the drill metrics on one registry. Its methods are safe for
// concurrent use. The zero value is not usable: use New.
type Metrics struct {
	mu sync.Mutex
	// plans holds what is known of each plan: its series made at zero, its
	// live runs, and what its last-value gauges show.
	plans map[string]*planState
	// finished remembers the latest finished run ids, oldest first.
	finished    []string
	finishedSet map[string]bool

	runsFinished     *prometheus.CounterVec
	runAborts        *prometheus.CounterVec
	runDuration      *prometheus.HistogramVec
	runLastDuration  *prometheus.GaugeVec
	runLastResult    *prometheus.GaugeVec
	runLastStart     *prometheus.GaugeVec
	runLastEnd       *prometheus.GaugeVec
	runLastSuccess   *prometheus.GaugeVec
	runsActive       *prometheus.GaugeVec
	nextRun          *prometheus.GaugeVec
	faultActive      *prometheus.GaugeVec
	revertFailures   *prometheus.CounterVec
	recoveryTime     *prometheus.HistogramVec
	serviceRTO       *prometheus.HistogramVec
	capacityRTO      *prometheus.HistogramVec
	lastRecovery     *prometheus.GaugeVec
	lastServiceRTO   *prometheus.GaugeVec
	lastCapacityRTO  *prometheus.GaugeVec
	lastRecovered    *prometheus.GaugeVec
	objectiveVerdict *prometheus.GaugeVec
	objectiveTarget  *prometheus.GaugeVec
}

var (
	planLabels      = []string{LabelPlan}
	faultLabels     = []string{LabelPlan, LabelStep, LabelType}
	recoveryLabels  = []string{LabelPlan, LabelStep, LabelType, LabelRecovery}
	objectiveLabels = []string{LabelPlan, LabelWindow, LabelStep, LabelType, LabelObjective, LabelVerdict}
)

// New creates the metrics and registers them with reg. Registering twice
// on one registry is an error: one drill serve (or one push) per registry.
func New(reg prometheus.Registerer) (*Metrics, error) {
	gauge := func(subsystem, name, help string, labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "firedrill", Subsystem: subsystem, Name: name, Help: help}, labels)
	}
	counter := func(subsystem, name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "firedrill", Subsystem: subsystem, Name: name, Help: help}, labels)
	}
	histogram := func(subsystem, name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "firedrill", Subsystem: subsystem, Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &Metrics{
		plans:       map[string]*planState{},
		finishedSet: map[string]bool{},

		runsFinished: counter("run", "finished_total",
			"Drill runs finished, by plan, phase and verdict.", []string{LabelPlan, LabelPhase, LabelVerdict}),
		runAborts: counter("run", "aborts_total",
			"Drill runs aborted, by plan and cause: condition (an abort condition tripped) or interrupted (stopped on request).", []string{LabelPlan, LabelCause}),
		runDuration: histogram("run", "duration_seconds",
			"Duration of finished drill runs, from start to completion, by plan.", DurationBuckets, planLabels),
		runLastDuration: gauge("run", "last_duration_seconds",
			"Duration of the plan's last finished run.", planLabels),
		runLastResult: gauge("run", "last_result",
			"1 for the phase and verdict of the plan's last finished run.", []string{LabelPlan, LabelPhase, LabelVerdict}),
		runLastStart: gauge("run", "last_start_timestamp_seconds",
			"When the plan's last run started, in seconds since the epoch; a run in progress counts.", planLabels),
		runLastEnd: gauge("run", "last_completion_timestamp_seconds",
			"When the plan's last finished run completed, in seconds since the epoch.", planLabels),
		runLastSuccess: gauge("run", "last_success_timestamp_seconds",
			"When the plan's last Succeeded run completed, in seconds since the epoch.", planLabels),
		runsActive: gauge("run", "active",
			"Runs of the plan in progress.", planLabels),
		nextRun: gauge("schedule", "next_run_timestamp_seconds",
			"When the plan's schedule fires next, in seconds since the epoch; absent without a schedule or while suspended.", planLabels),
		faultActive: gauge("fault", "active",
			"Faults in effect (injected, not yet reverted), by plan, step and fault type: the number of runs that have it in effect.", faultLabels),
		revertFailures: counter("fault", "revert_failures_total",
			"Faults whose revert failed (drill cleanup retries them), by plan, step and fault type.", faultLabels),
		recoveryTime: histogram("fault", "recovery_time_seconds",
			"Recovery time of recovered faults (the larger of service and capacity RTO, judged by the rto and failbackRTO objectives), by recovery: failover or failback.", RTOBuckets, recoveryLabels),
		serviceRTO: histogram("fault", "service_rto_seconds",
			"Service RTO of faults whose service recovered (SLIs recovered minus start), by recovery: failover or failback.", RTOBuckets, recoveryLabels),
		capacityRTO: histogram("fault", "capacity_rto_seconds",
			"Capacity RTO of faults whose capacity came back, on platforms that track it (ready minus start), by recovery: failover or failback.", RTOBuckets, recoveryLabels),
		lastRecovery: gauge("fault", "last_recovery_time_seconds",
			"Recovery time of the fault in the plan's last finished run; absent when it did not recover.", recoveryLabels),
		lastServiceRTO: gauge("fault", "last_service_rto_seconds",
			"Service RTO of the fault in the plan's last finished run; absent when its service did not recover.", recoveryLabels),
		lastCapacityRTO: gauge("fault", "last_capacity_rto_seconds",
			"Capacity RTO of the fault in the plan's last finished run; absent when capacity was not tracked or not back.", recoveryLabels),
		lastRecovered: gauge("fault", "last_recovered",
			"1 when the fault recovered in the plan's last finished run, 0 when it did not.", recoveryLabels),
		objectiveVerdict: gauge("objective", "last_verdict",
			"1 for each objective verdict of the plan's last finished run, by window (baseline, final, overall, failover, failback), step, fault type, objective and verdict.", objectiveLabels),
		objectiveTarget: gauge("objective", "target_seconds",
			"The plan's objectives that are durations (rto, failbackRTO, rpo, latencyP99), in seconds.", []string{LabelPlan, LabelObjective}),
	}
	for _, c := range []prometheus.Collector{
		m.runsFinished, m.runAborts, m.runDuration, m.runLastDuration, m.runLastResult, m.runLastStart, m.runLastEnd,
		m.runLastSuccess, m.runsActive, m.nextRun, m.faultActive, m.revertFailures, m.recoveryTime, m.serviceRTO,
		m.capacityRTO, m.lastRecovery, m.lastServiceRTO, m.lastCapacityRTO, m.lastRecovered, m.objectiveVerdict,
		m.objectiveTarget,
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering drill metrics (one drill serve per registry): %w", err)
			}
			return nil, fmt.Errorf("registering drill metrics: %w", err)
		}
	}
	return m, nil
}

// planState is what Metrics knows of one plan.
type planState struct {
	// faults are the plan's fault steps whose series exist, with the
	// recoveries whose series exist for each.
	faults map[faultKey]map[string]bool
	// live are the plan's runs in progress, by run id: the faults each has
	// in effect.
	live map[string]map[faultKey]bool
	// shown is the completion time of the run the last-value gauges show,
	// success that of the last Succeeded run, started the start of the
	// latest run.
	shown, success, started time.Time
}

// faultKey names a fault step.
type faultKey struct{ step, typ string }

// seconds is t in seconds since the epoch, to the microsecond.
func seconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
