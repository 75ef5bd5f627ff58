package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// None is the platform of a service firedrill does not manage. It injects
// nothing itself (exec faults are run by the engine) and watches no
// capacity.
type None struct{}

var _ Platform = None{}

// Name implements Platform.
func (None) Name() string { return string(v1alpha1.PlatformNone) }

// Preflight implements Platform: only exec faults can run.
func (None) Preflight(_ context.Context, spec *v1alpha1.DrillPlanSpec) error {
	var errs []error
	for _, st := range spec.Steps {
		if st.Fault != nil && st.Fault.Exec == nil {
			errs = append(errs, fmt.Errorf("step %s: %w: platform none only runs exec faults", st.Name, ErrUnsupported))
		}
	}
	return errors.Join(errs...)
}

// Start implements Platform.
func (None) Start(context.Context, evidence.Recorder) (Info, error) { return Info{}, nil }

// Stop implements Platform.
func (None) Stop(context.Context) error { return nil }

// Targets implements Platform.
func (None) Targets(_ context.Context, f Fault) ([]evidence.Target, error) {
	return nil, fmt.Errorf("step %s: %w: platform none only runs exec faults", f.ID, ErrUnsupported)
}

// Inject implements Platform.
func (None) Inject(_ context.Context, f Fault, _ evidence.Target) error {
	return fmt.Errorf("step %s: %w", f.ID, ErrUnsupported)
}

// Revert implements Platform.
func (None) Revert(_ context.Context, f Fault, _ evidence.Target) error {
	return fmt.Errorf("step %s: %w", f.ID, ErrUnsupported)
}

// Recover implements Platform.
func (None) Recover(_ context.Context, f Fault, _ []evidence.Target) error {
	return fmt.Errorf("step %s: %w", f.ID, ErrUnsupported)
}

// Capacity implements Platform.
func (None) Capacity(context.Context) ([]evidence.CapacityPoint, error) { return nil, nil }

// Clusters implements Platform: none.
func (None) Clusters() []evidence.Cluster { return nil }
