package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/report"
)

// outcomes are the phase and verdict pairs a finished run can have (the
// engine's summary.Summarize): their counters exist at zero from a plan's
// first mention, so that increase() counts the first run after a restart.
var outcomes = [][2]string{
	{string(v1alpha1.RunSucceeded), string(v1alpha1.VerdictPass)},
	{string(v1alpha1.RunFailed), string(v1alpha1.VerdictFail)},
	{string(v1alpha1.RunAborted), string(v1alpha1.VerdictFail)},
	{string(v1alpha1.RunAborted), string(v1alpha1.VerdictNotJudged)},
	{string(v1alpha1.RunError), string(v1alpha1.VerdictNotJudged)},
}

// SetPlan tells the metrics about a plan that drill serve knows: its
// counters and histograms are made at zero, its duration objectives are
// exported, and next is when its schedule fires next (zero without a
// schedule or while suspended: the series is removed). Call it on every
// schedule decision. spec may be nil when only next changed.
func (m *Metrics) SetPlan(name string, spec *v1alpha1.DrillPlanSpec, next time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.planLocked(name, spec)
	if spec != nil {
		m.pruneLocked(name, ps, spec)
	}
	if next.IsZero() {
		m.nextRun.DeleteLabelValues(name)
	} else {
		m.nextRun.WithLabelValues(name).Set(seconds(next))
	}
	m.activeLocked(name, ps)
}

// DeletePlan removes every series of a plan that is gone.
func (m *Metrics) DeletePlan(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.plans, name)
	match := prometheus.Labels{LabelPlan: name}
	for _, v := range m.vecs() {
		v.DeletePartialMatch(match)
	}
}

// RunUpdated takes a live snapshot of a run in progress
// (engine.Run.Snapshot, or a report built from a DrillRun's status): the
// run counts as active, its faults injected and not yet reverted as
// active faults, and its start as the plan's last start. Nothing is
// judged or counted until RunFinished. A snapshot of a run already
// finished is ignored.
func (m *Metrics) RunUpdated(rep *report.Report) {
	if rep == nil || rep.Plan.Name == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rep.RunID != "" && m.finishedSet[rep.RunID] {
		return
	}
	name := rep.Plan.Name
	ps := m.planLocked(name, &rep.Plan.Spec)
	active := map[faultKey]bool{}
	for _, st := range rep.Steps {
		f := st.Fault
		if f == nil {
			continue
		}
		k := m.faultLocked(name, ps, st.Name, f)
		if st.Phase == v1alpha1.RunRunning && f.Injected != nil && f.RevertFinished == nil {
			active[k] = true
		}
	}
	ps.live[rep.RunID] = active
	if rep.StartTime != nil {
		m.startedLocked(name, ps, rep.StartTime.Time)
	}
	m.activeLocked(name, ps)
}

// RunFinished takes a run's final report: it counts the run by phase and
// verdict (and its abort, and each revert that failed), observes its
// duration and every recovery in the histograms, and shows its results
// in the last-value gauges unless a run that completed later is shown.
// It is idempotent per run id. A report that is not final only ends the
// run's live state.
func (m *Metrics) RunFinished(rep *report.Report) {
	if rep == nil || rep.Plan.Name == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	name := rep.Plan.Name
	ps := m.planLocked(name, &rep.Plan.Spec)
	delete(ps.live, rep.RunID)
	defer m.activeLocked(name, ps)
	if !finished(rep) || (rep.RunID != "" && m.finishedSet[rep.RunID]) {
		return
	}
	m.rememberLocked(rep.RunID)

	m.runsFinished.WithLabelValues(name, string(rep.Phase), string(rep.Verdict)).Inc()
	if rep.Phase == v1alpha1.RunAborted {
		cause := CauseInterrupted
		if rep.Verdict == v1alpha1.VerdictFail {
			cause = CauseCondition
		}
		m.runAborts.WithLabelValues(name, cause).Inc()
	}
	if rep.StartTime != nil {
		m.runDuration.WithLabelValues(name).Observe(rep.CompletionTime.Sub(rep.StartTime.Time).Seconds())
	}
	for _, st := range rep.Steps {
		f := st.Fault
		if f == nil {
			continue
		}
		m.faultLocked(name, ps, st.Name, f)
		if RevertFailed(f) {
			m.revertFailures.WithLabelValues(name, st.Name, f.Type).Inc()
		}
		for _, r := range recoveries(f) {
			lv := []string{name, st.Name, f.Type, r.name}
			observe(m.recoveryTime, lv, r.RecoveryTime)
			observe(m.serviceRTO, lv, r.ServiceRTO)
			observe(m.capacityRTO, lv, r.CapacityRTO)
		}
	}
	m.showLocked(name, ps, rep)
}

// Restore shows an archived run's results in the last-value gauges, as
// RunFinished does, counting nothing: drill serve calls it at start with
// each plan's newest report (and its newest Succeeded one, for the last
// success), so a restart loses no verdict. A report older than the one
// shown changes nothing; one that is not final is ignored.
func (m *Metrics) Restore(rep *report.Report) {
	if rep == nil || rep.Plan.Name == "" || !finished(rep) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	name := rep.Plan.Name
	ps := m.planLocked(name, &rep.Plan.Spec)
	for _, st := range rep.Steps {
		if st.Fault != nil {
			m.faultLocked(name, ps, st.Name, st.Fault)
		}
	}
	m.showLocked(name, ps, rep)
	m.activeLocked(name, ps)
}

// RevertFailed says whether a fault's revert failed: the engine records
// it in the fault's error as "revert: ..." (the engine's summary.Summarize
// reads it the same way to end the run in Error).
func RevertFailed(f *v1alpha1.FaultResult) bool {
	return strings.Contains(f.Error, "revert: ")
}

// finished says whether rep is a finished run's final report.
func finished(rep *report.Report) bool {
	switch rep.Phase {
	case v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunAborted, v1alpha1.RunError:
		return rep.CompletionTime != nil
	}
	return false
}

// planLocked returns a plan's state, making its plan-wide series at zero
// the first time and its fault series for every fault step of spec; it
// exports spec's duration objectives. spec may be nil or empty (a report
// built from a DrillRun's status alone).
func (m *Metrics) planLocked(name string, spec *v1alpha1.DrillPlanSpec) *planState {
	ps := m.plans[name]
	if ps == nil {
		ps = &planState{faults: map[faultKey]map[string]bool{}, live: map[string]map[faultKey]bool{}}
		m.plans[name] = ps
		for _, o := range outcomes {
			m.runsFinished.WithLabelValues(name, o[0], o[1])
		}
		m.runAborts.WithLabelValues(name, CauseCondition)
		m.runAborts.WithLabelValues(name, CauseInterrupted)
		m.runDuration.WithLabelValues(name)
	}
	if spec == nil {
		return ps
	}
	for i := range spec.Steps {
		if f := spec.Steps[i].Fault; f != nil {
			m.seriesLocked(name, ps, faultKey{spec.Steps[i].Name, engine.FaultType(f)}, RecoveryFailover)
		}
	}
	if o := spec.Objectives; o.RTO != nil {
		m.objectiveTarget.DeletePartialMatch(prometheus.Labels{LabelPlan: name})
		for _, t := range []struct {
			objective string
			d         *metav1.Duration
		}{{"rto", o.RTO}, {"failbackRTO", o.FailbackRTO}, {"rpo", o.RPO}, {"latencyP99", o.LatencyP99}} {
			if t.d != nil {
				m.objectiveTarget.WithLabelValues(name, t.objective).Set(t.d.Seconds())
			}
		}
	}
	return ps
}

// pruneLocked removes the zero-made series of fault steps that spec no
// longer has and no live run has in effect (a step renamed or removed).
// The last-value gauges keep showing the last run as it was.
func (m *Metrics) pruneLocked(name string, ps *planState, spec *v1alpha1.DrillPlanSpec) {
	keep := map[faultKey]bool{}
	for i := range spec.Steps {
		if f := spec.Steps[i].Fault; f != nil {
			keep[faultKey{spec.Steps[i].Name, engine.FaultType(f)}] = true
		}
	}
	for _, act := range ps.live {
		for k := range act {
			keep[k] = true
		}
	}
	for k := range ps.faults {
		if keep[k] {
			continue
		}
		delete(ps.faults, k)
		match := prometheus.Labels{LabelPlan: name, LabelStep: k.step, LabelType: k.typ}
		for _, v := range []deleter{m.faultActive, m.revertFailures, m.recoveryTime, m.serviceRTO, m.capacityRTO} {
			v.DeletePartialMatch(match)
		}
	}
}

// faultLocked makes the series of a fault step and of each of its
// recoveries that f has, and returns the step's key.
func (m *Metrics) faultLocked(name string, ps *planState, step string, f *v1alpha1.FaultResult) faultKey {
	k := faultKey{step, f.Type}
	m.seriesLocked(name, ps, k, RecoveryFailover)
	if f.Failback != nil {
		m.seriesLocked(name, ps, k, RecoveryFailback)
	}
	return k
}

// seriesLocked makes a fault step's series at zero, and those of one of
// its recoveries.
func (m *Metrics) seriesLocked(name string, ps *planState, k faultKey, recovery string) {
	recs := ps.faults[k]
	if recs == nil {
		recs = map[string]bool{}
		ps.faults[k] = recs
		m.faultActive.WithLabelValues(name, k.step, k.typ)
		m.revertFailures.WithLabelValues(name, k.step, k.typ)
	}
	if !recs[recovery] {
		recs[recovery] = true
		for _, h := range []*prometheus.HistogramVec{m.recoveryTime, m.serviceRTO, m.capacityRTO} {
			h.WithLabelValues(name, k.step, k.typ, recovery)
		}
	}
}

// activeLocked sets a plan's active runs and active faults from its live
// runs.
func (m *Metrics) activeLocked(name string, ps *planState) {
	m.runsActive.WithLabelValues(name).Set(float64(len(ps.live)))
	count := map[faultKey]int{}
	for _, act := range ps.live {
		for k := range act {
			count[k]++
		}
	}
	for k := range ps.faults {
		m.faultActive.WithLabelValues(name, k.step, k.typ).Set(float64(count[k]))
	}
}

// startedLocked sets the plan's last start unless a later one is shown.
func (m *Metrics) startedLocked(name string, ps *planState, t time.Time) {
	if t.Before(ps.started) {
		return
	}
	ps.started = t
	m.runLastStart.WithLabelValues(name).Set(seconds(t))
}

// showLocked shows a finished run's results in the last-value gauges,
// unless a run that completed later is shown.
func (m *Metrics) showLocked(name string, ps *planState, rep *report.Report) {
	end := rep.CompletionTime.Time
	if rep.StartTime != nil {
		m.startedLocked(name, ps, rep.StartTime.Time)
	}
	if rep.Phase == v1alpha1.RunSucceeded && !end.Before(ps.success) {
		ps.success = end
		m.runLastSuccess.WithLabelValues(name).Set(seconds(end))
	}
	if end.Before(ps.shown) {
		return
	}
	ps.shown = end
	match := prometheus.Labels{LabelPlan: name}
	for _, v := range []*prometheus.GaugeVec{m.runLastResult, m.runLastDuration, m.lastRecovery, m.lastServiceRTO, m.lastCapacityRTO, m.lastRecovered, m.objectiveVerdict} {
		v.DeletePartialMatch(match)
	}
	m.runLastEnd.WithLabelValues(name).Set(seconds(end))
	m.runLastResult.WithLabelValues(name, string(rep.Phase), string(rep.Verdict)).Set(1)
	if rep.StartTime != nil {
		m.runLastDuration.WithLabelValues(name).Set(end.Sub(rep.StartTime.Time).Seconds())
	}
	for _, c := range []struct {
		window string
		check  *v1alpha1.CheckResult
	}{{WindowBaseline, rep.Baseline}, {WindowFinal, rep.Final}, {WindowOverall, rep.Overall}} {
		if c.check != nil {
			m.verdictsLocked(name, c.window, "", "", c.check.Verdicts)
		}
	}
	for _, st := range rep.Steps {
		f := st.Fault
		if f == nil {
			continue
		}
		for _, r := range recoveries(f) {
			lv := []string{name, st.Name, f.Type, r.name}
			recovered := 0.0
			if r.Recovered {
				recovered = 1
			}
			m.lastRecovered.WithLabelValues(lv...).Set(recovered)
			set(m.lastRecovery, lv, r.RecoveryTime)
			set(m.lastServiceRTO, lv, r.ServiceRTO)
			set(m.lastCapacityRTO, lv, r.CapacityRTO)
			m.verdictsLocked(name, r.name, st.Name, f.Type, r.Verdicts)
		}
	}
}

func (m *Metrics) verdictsLocked(name, window, step, typ string, verdicts []v1alpha1.ObjectiveVerdict) {
	for _, v := range verdicts {
		m.objectiveVerdict.WithLabelValues(name, window, step, typ, v.Objective, string(v.Verdict)).Set(1)
	}
}

// rememberLocked records a finished run id, forgetting the oldest beyond
// finishedMemory.
func (m *Metrics) rememberLocked(id string) {
	if id == "" {
		return
	}
	m.finished = append(m.finished, id)
	m.finishedSet[id] = true
	if len(m.finished) > finishedMemory {
		delete(m.finishedSet, m.finished[0])
		m.finished = m.finished[1:]
	}
}

// vecs are every metric vector, for DeletePlan.
func (m *Metrics) vecs() []deleter {
	return []deleter{
		m.runsFinished, m.runAborts, m.runDuration, m.runLastDuration, m.runLastResult, m.runLastStart, m.runLastEnd,
		m.runLastSuccess, m.runsActive, m.nextRun, m.faultActive, m.revertFailures, m.recoveryTime, m.serviceRTO,
		m.capacityRTO, m.lastRecovery, m.lastServiceRTO, m.lastCapacityRTO, m.lastRecovered, m.objectiveVerdict,
		m.objectiveTarget,
	}
}

// deleter is a metric vector's DeletePartialMatch.
type deleter interface {
	DeletePartialMatch(labels prometheus.Labels) int
}

// namedRecovery is a fault's recovery with its label value.
type namedRecovery struct {
	name string
	*v1alpha1.Recovery
}

func recoveries(f *v1alpha1.FaultResult) []namedRecovery {
	var out []namedRecovery
	if f.Failover != nil {
		out = append(out, namedRecovery{RecoveryFailover, f.Failover})
	}
	if f.Failback != nil {
		out = append(out, namedRecovery{RecoveryFailback, f.Failback})
	}
	return out
}

func observe(h *prometheus.HistogramVec, lv []string, d *metav1.Duration) {
	if d != nil {
		h.WithLabelValues(lv...).Observe(d.Seconds())
	}
}

func set(g *prometheus.GaugeVec, lv []string, d *metav1.Duration) {
	if d != nil {
		g.WithLabelValues(lv...).Set(d.Seconds())
	}
}
