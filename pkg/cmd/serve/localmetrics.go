package serve

import (
	"context"
	"time"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// drillMetrics feeds the firedrill_ drill metrics from the one-machine
// runner: the plan label is the plan's name.
type drillMetrics struct{ m *metrics.Metrics }

func (d drillMetrics) Decided(p *plan.Plan, dec scheduler.Decision) {
	var next time.Time
	if t := dec.Status.NextScheduleTime; t != nil && p.Spec.Schedule != "" && !p.Spec.Suspend {
		next = t.Time
	}
	d.m.SetPlan(p.Name, &p.Spec, next)
}
func (d drillMetrics) PlanRemoved(name string)        { d.m.DeletePlan(name) }
func (d drillMetrics) RunUpdated(rep *report.Report)  { d.m.RunUpdated(rep) }
func (d drillMetrics) RunFinished(rep *report.Report) { d.m.RunFinished(rep) }

// observers tells each observer in turn.
type observers []plansdir.Observer

func (os observers) Decided(p *plan.Plan, d scheduler.Decision) {
	for _, o := range os {
		o.Decided(p, d)
	}
}

func (os observers) PlanRemoved(name string) {
	for _, o := range os {
		o.PlanRemoved(name)
	}
}

func (os observers) RunUpdated(rep *report.Report) {
	for _, o := range os {
		o.RunUpdated(rep)
	}
}

func (os observers) RunFinished(rep *report.Report) {
	for _, o := range os {
		o.RunFinished(rep)
	}
}

// restoreMetrics shows each served plan's last archived run in the drill
// metrics' last-value gauges, so a restart loses no verdict. A failure
// is logged: the metrics fill in again as runs finish.
func restoreMetrics(ctx context.Context, m *metrics.Metrics, r *plansdir.Runner, a archive.Archive) {
	served, err := r.Plans(ctx)
	if err != nil {
		log.FromContext(ctx).Warn("restoring the drill metrics from the archive", "err", err)
		return
	}
	plans := make([]metrics.ArchivedPlan, 0, len(served))
	for _, p := range served {
		if p.Name != "" {
			plans = append(plans, metrics.ArchivedPlan{Label: p.Name, Plan: p.Name})
		}
	}
	if err := m.RestoreFromArchive(ctx, a, plans); err != nil {
		log.FromContext(ctx).Warn("restoring the drill metrics from the archive", "err", err)
	}
}
