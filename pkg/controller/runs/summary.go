package runs

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Summarize is the cache transform of DrillRuns: managed fields go, and a
// finished run keeps its summary (phase, verdict, message, times, worst
// recovery, report, journal, conditions) but not its step results and
// windows, which nothing reads from the cache; reading one run's results
// reads it from the API server. Two thousand runs of history then cost a
// few MB of cache instead of tens. Nothing may Update a DrillRun read
// from the cache (patches of what changed only), or the stripped results
// would be written back empty.
func Summarize(obj any) (any, error) {
	if o, ok := obj.(client.Object); ok {
		o.SetManagedFields(nil)
	}
	r, ok := obj.(*v1alpha1.DrillRun)
	if !ok || !r.Status.Phase.IsTerminal() {
		return obj, nil
	}
	st := &r.Status
	st.Steps, st.Baseline, st.Final, st.Overall, st.PlanSpec = nil, nil, nil, nil, nil
	return r, nil
}
