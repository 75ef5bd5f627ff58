package platform

import (
	"context"
	"errors"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/slo"
)

// ErrUnsupported is returned for a fault a platform cannot inject.
var ErrUnsupported = errors.New("fault not supported by this platform")

// Target is one thing a fault acts on.
type Target struct {
	// Kind is pod, node, region, store or action.
	Kind string `json:"kind"`
	// Name identifies the target on its platform.
	Name string `json:"name"`
	// Region the target is in, when known.
	Region string `json:"region,omitempty"`
	// Labels of the target, used by selectors and shown in dry runs.
	Labels map[string]string `json:"labels,omitempty"`
}

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
}

// Platform is what the engine needs from a platform.
type Platform interface {
	// Name is the platform's name as written in plans.
	Name() string
	// Start brings the platform up for a run.
	Start(ctx context.Context) (Info, error)
	// Stop tears down what Start brought up.
	Stop(ctx context.Context) error
	// Targets lists every candidate target of a fault.
	Targets(ctx context.Context, f Fault) ([]Target, error)
	// Inject applies f to one target. It is idempotent.
	Inject(ctx context.Context, f Fault, t Target) error
	// Revert undoes f on one target. It is idempotent.
	Revert(ctx context.Context, f Fault, t Target) error
	// Capacity reports desired versus ready replicas of every watched
	// workload now.
	Capacity(ctx context.Context) ([]slo.CapacityPoint, error)
}

// ModelReporter reports model versions, from which RPO is measured.
type ModelReporter interface {
	// Models reports the model each replica serves now.
	Models(ctx context.Context) ([]slo.ModelObservation, error)
	// Published lists the models published to the store.
	Published(ctx context.Context) ([]slo.ModelObservation, error)
}

// ReplacementReporter reports when replacement capacity for a fault was
// scheduled or started.
type ReplacementReporter interface {
	// Replaced returns the first replacement at or after since, or nil.
	Replaced(ctx context.Context, f Fault, since time.Time) (*time.Time, error)
}

// EffectReporter reports when a fault took effect, for platforms whose
// Inject returns some time after that: a drain evicts pods and then waits
// for them to be gone, a cutover drains a whole region. The engine then
// measures from the first disruptive API call that succeeded, not from the
// end of the injection.
type EffectReporter interface {
	// TookEffect returns the instant f first took effect, or false when
	// the platform did not record one.
	TookEffect(f Fault) (time.Time, bool)
}

// Noter adds platform observations about a fault to the report (a replica
// that started from its cache during a store outage, for example).
type Noter interface {
	// Notes returns what the platform observed about f.
	Notes(f Fault) []string
}

// Recoverer reverts faults that a crashed run left active. Platforms that
// do not implement it are recovered by calling Revert on every target.
type Recoverer interface {
	// Recover reverts f on targets after a crash.
	Recover(ctx context.Context, f Fault, targets []Target) error
}
