package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// The heartbeat a run renews on every cluster it marks (package lease).
const (
	// DefaultHeartbeatInterval is how often a run renews its heartbeat.
	DefaultHeartbeatInterval = lease.DefaultInterval
	// DefaultHeartbeatGrace is how old a heartbeat may be before its run
	// is taken for dead.
	DefaultHeartbeatGrace = lease.DefaultGrace
	// MinHeartbeatGrace is the shortest grace drill cleanup --from-cluster
	// accepts.
	MinHeartbeatGrace = lease.MinGrace
)

// HeartbeatStatus is a run's heartbeat as judged at one instant.
type HeartbeatStatus = lease.Status

// HeartbeatKey locates a heartbeat Lease.
type HeartbeatKey = lease.Key

// What a heartbeat says of its run (HeartbeatStatus.State).
const (
	// HeartbeatLive: renewed within the grace period.
	HeartbeatLive = lease.Live
	// HeartbeatStale: last renewed longer ago than the grace period.
	HeartbeatStale = lease.Stale
	// HeartbeatMissing: no heartbeat where the marks say it is, or none
	// named.
	HeartbeatMissing = lease.Missing
)

// heartbeatKey is where run's heartbeat is on this cluster: the plan's
// target namespace.
func (p *Platform) heartbeatKey(runID string) lease.Key {
	return lease.KeyOf(p.scope.namespace, runID)
}

// alive makes sure run's heartbeat is renewed on this cluster before the
// run marks anything: the first call creates the Lease and starts renewing
// it until Stop. Once the heartbeat is lost, another process may have
// taken the run for dead and reverted its faults, so alive refuses.
func (p *Platform) alive(ctx context.Context, runID string) error {
	p.hbMu.Lock()
	defer p.hbMu.Unlock()
	if hb, ok := p.heartbeats[runID]; ok {
		if err := hb.Err(); err != nil {
			return fmt.Errorf("refusing to inject: %w", err)
		}
		return nil
	}
	hb, err := lease.Start(ctx, lease.Options{
		Client: p.c, Clock: p.opts.Clock, Namespace: p.scope.namespace, RunID: runID,
		Interval: p.opts.HeartbeatInterval, Grace: p.opts.HeartbeatGrace,
	})
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%w (a run keeps a heartbeat: it needs create, get, update and delete on leases.coordination.k8s.io in namespace %s)", err, p.scope.namespace)
	}
	if err != nil {
		return err
	}
	p.heartbeats[runID] = hb
	log.FromContext(ctx).Info("heartbeat started", "run", runID, "lease", hb.Key().String())
	return nil
}

// stopHeartbeats ends the renewals of this process's runs and deletes
// their Leases.
func (p *Platform) stopHeartbeats(ctx context.Context) error {
	p.hbMu.Lock()
	hbs := p.heartbeats
	p.heartbeats = map[string]*lease.Heartbeat{}
	p.hbMu.Unlock()
	var errs []error
	for _, hb := range hbs {
		if err := hb.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// forgetDead deletes the heartbeat a dead run left on this cluster, after
// its faults were recovered from the journal. A run this process is
// running is never forgotten.
func (p *Platform) forgetDead(ctx context.Context, runID string) error {
	p.hbMu.Lock()
	_, mine := p.heartbeats[runID]
	p.hbMu.Unlock()
	if mine {
		return nil
	}
	l, err := lease.Get(ctx, p.c, p.heartbeatKey(runID))
	if err != nil || l == nil || lease.RunOf(l) != runID {
		return err
	}
	return lease.Delete(ctx, p.c, l)
}

// runMarks are the marks of one run on the cluster, and its heartbeat.
type runMarks struct {
	runID   string
	objects []MarkedObject
	lease   *coordinationv1.Lease
	status  HeartbeatStatus
	err     error
}

// judge groups marked objects by run, in the order first seen, and reads
// each run's heartbeat where its marks say it is. List the marks before
// calling it: a run that marks after that list is not judged.
func (p *Platform) judge(ctx context.Context, marked []MarkedObject, grace time.Duration) []*runMarks {
	var runs []*runMarks
	byRun := map[string]*runMarks{}
	for _, mo := range marked {
		r, ok := byRun[mo.RunID]
		if !ok {
			r = &runMarks{runID: mo.RunID}
			byRun[mo.RunID] = r
			runs = append(runs, r)
		}
		r.objects = append(r.objects, mo)
	}
	now := p.opts.Clock.Now()
	for _, r := range runs {
		var key lease.Key
		for _, mo := range r.objects {
			if mo.Heartbeat == "" {
				continue
			}
			k, err := lease.ParseKey(mo.Heartbeat)
			if err != nil {
				r.err = fmt.Errorf("object %s: %w", mo.Target, err)
				break
			}
			key = k
			break
		}
		if r.err != nil {
			continue
		}
		if key != (lease.Key{}) {
			r.lease, r.err = lease.Get(ctx, p.c, key)
			if r.err != nil {
				continue
			}
		}
		r.status = lease.Judge(key, r.lease, r.runID, now, grace)
	}
	return runs
}

// touchesNodes says whether a plan's faults act on nodes: a drain, a GPU
// failure, or a cutover that cordons its region.
func touchesNodes(spec *v1alpha1.DrillPlanSpec) bool {
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

// held refuses a plan whose targets carry another run's marks: the
// objects in the plan's namespaces and, when a fault of the plan acts on
// nodes, the nodes. A live run's marks mean it is drilling there now; a
// dead run's mean it left faults no journal here knows of. Either way the
// message names the run. Every mark is another run's: the run about to
// start has marked nothing yet.
func (p *Platform) held(ctx context.Context, sc scope, spec *v1alpha1.DrillPlanSpec) error {
	marked, err := p.marked(ctx, sc.watched, marks.Filter{})
	if err != nil {
		return err
	}
	if !touchesNodes(spec) {
		marked = slices.DeleteFunc(marked, func(mo MarkedObject) bool { return mo.Target.Kind == evidence.KindNode })
	}
	grace := p.opts.HeartbeatGrace
	if grace <= 0 {
		grace = DefaultHeartbeatGrace
	}
	var errs []error
	for _, r := range p.judge(ctx, marked, grace) {
		what := describeMarked(r.objects)
		switch {
		case r.err != nil:
			errs = append(errs, fmt.Errorf("run %s holds %s, and whether it is alive is unknown: %w", r.runID, what, r.err))
		case !r.status.Dead():
			errs = append(errs, fmt.Errorf("run %s is live on this cluster (%s) and holds %s: wait for it to finish, or stop it", r.runID, r.status, what))
		default:
			errs = append(errs, fmt.Errorf("run %s left faults on this cluster and is not running (%s): %s; "+
				"revert them with drill cleanup on the machine that ran it, or drill cleanup --from-cluster", r.runID, r.status, what))
		}
	}
	return errors.Join(errs...)
}

// describeMarked lists marked objects for people: kind/name (step s).
func describeMarked(objs []MarkedObject) string {
	out := make([]string, 0, len(objs))
	for _, mo := range objs {
		out = append(out, fmt.Sprintf("%s (step %s)", mo.Target, mo.Fault))
	}
	return strings.Join(out, ", ")
}
