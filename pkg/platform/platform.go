package platform

import (
	"context"
	"errors"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// ErrUnsupported is returned for a fault a platform cannot inject.
var ErrUnsupported = errors.New("fault not supported by this platform")

// Fault is one fault of a run as a platform sees it.
type Fault struct {
	// ID is unique within the run (the step name).
	ID string `json:"id"`
	// RunID is the run that injects the fault.
	RunID string `json:"runID"`
	// Spec is the fault from the plan, defaulted.
	Spec *v1alpha1.Fault `json:"spec"`
}

// Info describes a started platform.
type Info struct {
	// Endpoint is where probes send traffic when the plan names none (the
	// sandbox's front door).
	Endpoint string
	// Details are shown to the user (sandbox endpoints, cluster name).
	Details map[string]string
	// Published are the models published to the model store when the
	// platform started; the RPO is measured against them.
	Published []evidence.ModelObservation
}

// Platform is what the engine needs from a platform.
type Platform interface {
	// Name is the platform's name as written in plans.
	Name() string
	// Preflight checks, before anything is started or touched, that every
	// fault of spec can work on this platform. It returns every problem.
	Preflight(ctx context.Context, spec *v1alpha1.DrillPlanSpec) error
	// Start brings the platform up for a run. Events it observes go to
	// rec until Stop.
	Start(ctx context.Context, rec evidence.Recorder) (Info, error)
	// Stop tears down what Start brought up.
	Stop(ctx context.Context) error
	// Targets lists every candidate target of a fault.
	Targets(ctx context.Context, f Fault) ([]evidence.Target, error)
	// Inject applies f to one target. It is idempotent.
	Inject(ctx context.Context, f Fault, t evidence.Target) error
	// Revert undoes f on one target. It is idempotent.
	Revert(ctx context.Context, f Fault, t evidence.Target) error
	// Recover reverts f on targets after the run that injected it died,
	// without Start. It is idempotent.
	Recover(ctx context.Context, f Fault, targets []evidence.Target) error
	// Capacity reports desired versus ready replicas of every watched
	// workload now.
	Capacity(ctx context.Context) ([]evidence.CapacityPoint, error)
	// Clusters identifies the clusters the platform acts on, known without
	// Start; none for a platform that is not a cluster. The journal records
	// them, and cleanup reverts a run's faults only through a platform that
	// acts on the same clusters.
	Clusters() []evidence.Cluster
}

// Reverts says whether a fault has anything to revert: a pod kill is
// undone by the workload's controller, an exec fault only when it has a
// revert action, and revert: never opts out.
func Reverts(f *v1alpha1.Fault) bool {
	switch {
	case f.Revert == v1alpha1.RevertNever:
		return false
	case f.PodKill != nil:
		return false
	case f.Exec != nil:
		return f.Exec.Revert != nil
	}
	return true
}
