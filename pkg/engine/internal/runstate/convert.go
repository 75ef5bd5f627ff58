package runstate

import (
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/slo"
)

// This file is the one place where plan types become engine types.

// Objectives converts a plan's objectives for package slo. A percentage
// that does not parse is an error naming its field (validated plans never
// have one).
func Objectives(o v1alpha1.Objectives) (slo.Objectives, error) {
	out := slo.Objectives{}
	var errs []error
	pct := func(field string, p v1alpha1.Percent) float64 {
		if p == "" {
			return 0
		}
		f, err := p.Float()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", field, p, err))
		}
		return f
	}
	if o.RTO != nil {
		out.RTO = o.RTO.Duration
	}
	out.FailbackRTO = out.RTO
	if o.FailbackRTO != nil {
		out.FailbackRTO = o.FailbackRTO.Duration
	}
	if o.RPO != nil {
		d := o.RPO.Duration
		out.RPO = &d
	}
	out.Availability = pct("objectives.availability", o.Availability)
	if o.LatencyP99 != nil {
		out.LatencyP99 = o.LatencyP99.Duration
	}
	out.Recovered.SuccessRate = pct("objectives.recovered.successRate", o.Recovered.SuccessRate)
	if o.Recovered.LatencyP99 != nil {
		out.Recovered.LatencyP99 = o.Recovered.LatencyP99.Duration
	}
	if o.Recovered.For != nil {
		out.Recovered.For = o.Recovered.For.Duration
	}
	return out, errors.Join(errs...)
}

// CheckAbort reads the abort section's percentage, so a bad one fails the
// run before anything is touched.
func CheckAbort(a v1alpha1.Abort) error {
	if a.AvailabilityBelow == "" {
		return nil
	}
	if _, err := a.AvailabilityBelow.Float(); err != nil {
		return fmt.Errorf("abort.availabilityBelow %q: %w", a.AvailabilityBelow, err)
	}
	return nil
}

// AbortWindow is the window abort.availabilityBelow is judged over.
func AbortWindow(spec *v1alpha1.DrillPlanSpec) time.Duration {
	if w := spec.Abort.Window; w != nil {
		return w.Duration
	}
	return v1alpha1.DefaultAbortWindow
}

// stepTimeout bounds the observation of each recovery of step st.
func stepTimeout(st *v1alpha1.Step, o *v1alpha1.Objectives) time.Duration {
	if st.Timeout != nil {
		return st.Timeout.Duration
	}
	return v1alpha1.DefaultStepTimeout(o)
}

// settleOf is how long after sending a sample is final: the probe timeout
// plus slack.
func settleOf(spec *v1alpha1.DrillPlanSpec) time.Duration {
	d := v1alpha1.DefaultTimeout
	if spec.Load.Timeout != nil {
		d = spec.Load.Timeout.Duration
	}
	return d + 50*time.Millisecond
}

// Micro is t as a reported instant; nil for the zero time.
func Micro(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewMicroTime(t)
	return &m
}

// FaultType names the fault type set in f.
func FaultType(f *v1alpha1.Fault) string {
	switch {
	case f.PodKill != nil:
		return "podKill"
	case f.NodeDrain != nil:
		return "nodeDrain"
	case f.GPUFailure != nil:
		return "gpuFailure"
	case f.RegionCutover != nil:
		return "regionCutover"
	case f.ModelStoreOutage != nil:
		return "modelStoreOutage"
	case f.Exec != nil:
		return "exec"
	case f.ChaosMesh != nil:
		return "chaosMesh"
	}
	return "unknown"
}
