package metrics

import (
	"context"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	drillmetrics "github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/report"
)

// Drills feeds the firedrill_ drill metrics (pkg/metrics) from the
// controllers. In a cluster a plan is named by its namespace too: the
// plan label is <namespace>/<name>, so plans of one name in two
// namespaces never share series. The zero value is not usable: use
// NewDrills.
type Drills struct {
	m *drillmetrics.Metrics
}

// NewDrills returns the drill metrics m as the controllers feed them.
func NewDrills(m *drillmetrics.Metrics) *Drills { return &Drills{m: m} }

// PlanLabel is the plan label of plan name in namespace.
func PlanLabel(namespace, name string) string { return namespace + "/" + name }

// relabel is rep with the plan label as its plan's name; rep is not
// changed (the copy shares its contents, which the metrics only read).
func relabel(namespace string, rep *report.Report) *report.Report {
	if rep == nil {
		return nil
	}
	c := *rep
	c.Plan.Name = PlanLabel(namespace, rep.Plan.Name)
	return &c
}

// SetPlan tells the metrics about a plan's spec and next fire (zero
// without one).
func (d *Drills) SetPlan(namespace, name string, spec *v1alpha1.DrillPlanSpec, next time.Time) {
	d.m.SetPlan(PlanLabel(namespace, name), spec, next)
}

// DeletePlan removes the series of a plan that is gone.
func (d *Drills) DeletePlan(namespace, name string) { d.m.DeletePlan(PlanLabel(namespace, name)) }

// RunUpdated takes the live report of a run of namespace.
func (d *Drills) RunUpdated(namespace string, rep *report.Report) {
	d.m.RunUpdated(relabel(namespace, rep))
}

// RunFinished takes the final report of a run of namespace.
func (d *Drills) RunFinished(namespace string, rep *report.Report) {
	d.m.RunFinished(relabel(namespace, rep))
}

// Restore shows each plan's last archived run in the last-value gauges:
// the runs of plan name in namespace are those of plan name whose run id
// starts with "<namespace>." (runs.ReportID).
func (d *Drills) Restore(ctx context.Context, a archive.Archive, plans []v1alpha1.DrillPlan) error {
	ps := make([]drillmetrics.ArchivedPlan, 0, len(plans))
	for i := range plans {
		p := &plans[i]
		ps = append(ps, drillmetrics.ArchivedPlan{Label: PlanLabel(p.Namespace, p.Name), Plan: p.Name, RunPrefix: p.Namespace + "."})
	}
	return d.m.RestoreFromArchive(ctx, a, ps)
}
