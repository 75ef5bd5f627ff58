package liveness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// Marks lists and reverts the objects runs marked on the cluster. The
// façade implements it over the fault packages.
type Marks interface {
	// Marked lists the marked objects of namespaces ("" is every
	// namespace; nodes are cluster-wide) that f matches.
	Marked(ctx context.Context, namespaces []string, f marks.Filter) ([]marks.Object, error)
	// Revert restores one object that step fault of run changed, from
	// its own marks.
	Revert(ctx context.Context, runID, fault string, t evidence.Target) error
}

// Cluster judges and recovers the marks runs left on one cluster.
type Cluster struct {
	// Client reads and deletes heartbeats. Required.
	Client client.Client
	// Clock is the reader's: a heartbeat's age is now minus its renewal.
	// Required.
	Clock clock.PassiveClock
	// Marks lists and reverts marked objects. Required.
	Marks Marks
}

// Run is the marks of one run on the cluster, and its heartbeat.
type Run struct {
	// RunID is the run the marks name.
	RunID string
	// Objects are the objects it marked, in the order listed.
	Objects []marks.Object
	// Lease is its heartbeat; nil when there is none.
	Lease *coordinationv1.Lease
	// Status is the heartbeat as judged.
	Status lease.Status
	// Err says why the heartbeat could not be read (Status is then
	// unknown).
	Err error
}

// Judge groups marked objects by run, in the order first seen, and reads
// each run's heartbeat where its marks say it is. List the marks before
// calling it: a run that marks after that list is not judged.
func (c Cluster) Judge(ctx context.Context, marked []marks.Object, grace time.Duration) []*Run {
	var runs []*Run
	byRun := map[string]*Run{}
	for _, mo := range marked {
		r, ok := byRun[mo.RunID]
		if !ok {
			r = &Run{RunID: mo.RunID}
			byRun[mo.RunID] = r
			runs = append(runs, r)
		}
		r.Objects = append(r.Objects, mo)
	}
	now := c.Clock.Now()
	for _, r := range runs {
		var key lease.Key
		for _, mo := range r.Objects {
			if mo.Heartbeat == "" {
				continue
			}
			k, err := lease.ParseKey(mo.Heartbeat)
			if err != nil {
				r.Err = fmt.Errorf("object %s: %w", mo.Target, err)
				break
			}
			key = k
			break
		}
		if r.Err != nil {
			continue
		}
		if key != (lease.Key{}) {
			r.Lease, r.Err = lease.Get(ctx, c.Client, key)
			if r.Err != nil {
				continue
			}
		}
		r.Status = lease.Judge(key, r.Lease, r.RunID, now, grace)
	}
	return runs
}

// TouchesNodes says whether a plan's faults act on nodes: a drain, a GPU
// failure, or a cutover that cordons its region.
func TouchesNodes(spec *v1alpha1.DrillPlanSpec) bool {
	for _, st := range spec.Steps {
		f := st.Fault
		if f == nil {
			continue
		}
		if f.NodeDrain != nil || f.GPUFailure != nil || (f.RegionCutover != nil && f.RegionCutover.Method != v1alpha1.CutoverScaleToZero) {
			return true
		}
	}
	return false
}

// Held refuses a plan whose targets carry another run's marks: the
// objects in namespaces (the plan's) and, when a fault of the plan acts on
// nodes, the nodes. A live run's marks mean it is drilling there now; a
// dead run's mean it left faults no journal here knows of. Either way the
// message names the run. Every mark is another run's: the run about to
// start has marked nothing yet. A grace of zero means lease.DefaultGrace.
func (c Cluster) Held(ctx context.Context, namespaces []string, spec *v1alpha1.DrillPlanSpec, grace time.Duration) error {
	marked, err := c.Marks.Marked(ctx, namespaces, marks.Filter{})
	if err != nil {
		return err
	}
	if !TouchesNodes(spec) {
		marked = slices.DeleteFunc(marked, func(mo marks.Object) bool { return mo.Target.Kind == evidence.KindNode })
	}
	if grace <= 0 {
		grace = lease.DefaultGrace
	}
	var errs []error
	for _, r := range c.Judge(ctx, marked, grace) {
		what := describeMarked(r.Objects)
		switch {
		case r.Err != nil:
			errs = append(errs, fmt.Errorf("run %s holds %s, and whether it is alive is unknown: %w", r.RunID, what, r.Err))
		case !r.Status.Dead():
			errs = append(errs, fmt.Errorf("run %s is live on this cluster (%s) and holds %s: wait for it to finish, or stop it", r.RunID, r.Status, what))
		default:
			errs = append(errs, fmt.Errorf("run %s left faults on this cluster and is not running (%s): %s; "+
				"revert them with drill cleanup on the machine that ran it, or drill cleanup --from-cluster", r.RunID, r.Status, what))
		}
	}
	return errors.Join(errs...)
}

// describeMarked lists marked objects for people: kind/name (step s).
func describeMarked(objs []marks.Object) string {
	out := make([]string, 0, len(objs))
	for _, mo := range objs {
		out = append(out, fmt.Sprintf("%s (step %s)", mo.Target, mo.Fault))
	}
	return strings.Join(out, ", ")
}
