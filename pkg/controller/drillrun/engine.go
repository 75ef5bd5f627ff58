package drillrun

import (
	"context"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/report"
)

// Engine starts drills: *engine.Engine through FromEngine.
type Engine interface {
	// Start starts running p; before it returns nothing is touched.
	Start(ctx context.Context, p *plan.Plan, ro engine.RunOptions) (Drill, error)
}

// Drill is one drill in progress (*engine.Run).
type Drill interface {
	// Snapshot builds the report as of now.
	Snapshot() *report.Report
	// Abort reverts every active fault at once and ends the run.
	Abort(reason string)
	// Done is closed when the run is over.
	Done() <-chan struct{}
	// Wait returns the final report.
	Wait() (*report.Report, error)
}

// FromEngine adapts an *engine.Engine.
func FromEngine(e *engine.Engine) Engine { return engineStarter{e} }

type engineStarter struct{ e *engine.Engine }

func (s engineStarter) Start(ctx context.Context, p *plan.Plan, ro engine.RunOptions) (Drill, error) {
	r, err := s.e.Start(ctx, p, ro)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// PlatformFactory builds the platform a plan targets, from the serve
// process's kubeconfig or in-cluster configuration.
type PlatformFactory func(ctx context.Context, spec *v1alpha1.DrillPlanSpec) (platform.Platform, error)

// Archive keeps reports (*reportarchive.Archive).
type Archive interface {
	// Store archives a run's report under its namespace and says where.
	// When it could only keep the report elsewhere, it returns where and
	// an error that says so.
	Store(ctx context.Context, namespace string, rep *report.Report) (v1alpha1.ReportReference, error)
}

// ActionRunner runs an exec fault's revert action (*action.Runner).
type ActionRunner = engine.ActionRunner

// DrillMetrics takes runs' reports: the firedrill_ drill metrics
// (*metrics.Drills of pkg/controller/metrics, which labels a plan with its
// namespace). Its methods must not block.
type DrillMetrics interface {
	// RunUpdated takes the live report of a run of namespace.
	RunUpdated(namespace string, rep *report.Report)
	// RunFinished takes the final report of a run of namespace.
	RunFinished(namespace string, rep *report.Report)
}
