package liveness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube/lease"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// OrphanOptions configure RecoverOrphans.
type OrphanOptions struct {
	// Namespaces are looked in for marked objects and for heartbeats
	// without marks; empty means every namespace. Nodes are cluster-wide
	// and always looked at; a heartbeat is read wherever its run's marks
	// say it is.
	Namespaces []string
	// Grace is how old a heartbeat may be before its run is taken for
	// dead; zero means lease.DefaultGrace. It may not be shorter than
	// lease.MinGrace.
	Grace time.Duration
	// DryRun judges every run and reverts nothing.
	DryRun bool
}

// Orphan is what one fault of one run left marked on the cluster, and
// whether its run is alive.
type Orphan struct {
	// RunID and Fault are the run and step the marks name.
	RunID, Fault string
	// Objects are the marked objects.
	Objects []evidence.Target
	// Heartbeat is the run's heartbeat as judged; a live run's marks are
	// left alone.
	Heartbeat lease.Status
	// Reverted is true once every object was restored from its marks.
	Reverted bool
	// Err says why the fault was not reverted (or its run not judged).
	Err error
}

// Live says whether the orphan's run is alive: then it is no orphan, and
// is left alone.
func (o Orphan) Live() bool { return o.Err == nil && !o.Heartbeat.Dead() }

// RecoverOrphans reverts, with no journal, every fault whose marks are on
// the cluster and whose run is dead: its heartbeat is older than the grace
// period, or it has none. Each object is restored from its own marks, in
// the order Marks lists them. A live run's marks are listed and left
// alone. A dead run's heartbeat is deleted once its every mark is gone,
// and so is a stale heartbeat with no marks. It returns every fault it
// found, one per run and step, and an error when a dead run's fault could
// not be reverted.
func (c Cluster) RecoverOrphans(ctx context.Context, opts OrphanOptions) ([]Orphan, error) {
	if opts.Grace == 0 {
		opts.Grace = lease.DefaultGrace
	}
	if opts.Grace < lease.MinGrace {
		return nil, fmt.Errorf("a grace of %s is shorter than %s: a live run that renews its heartbeat every %s would be taken for dead",
			opts.Grace, lease.MinGrace, lease.DefaultInterval)
	}
	namespaces := opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	logger := log.FromContext(ctx)
	// The marks first, then the heartbeats: a run that starts meanwhile
	// creates its heartbeat before its first mark, so no mark listed here
	// can belong to a run whose heartbeat is not there yet.
	marked, err := c.Marks.Marked(ctx, namespaces, marks.Filter{})
	if err != nil {
		return nil, err
	}
	var out []Orphan
	var errs []error
	judged := map[string]bool{}
	for _, r := range c.Judge(ctx, marked, opts.Grace) {
		judged[r.RunID] = true
		orphans := groupByFault(r)
		if r.Err != nil {
			for i := range orphans {
				orphans[i].Err = fmt.Errorf("reading its heartbeat: %w", r.Err)
			}
			errs = append(errs, fmt.Errorf("run %s: reading its heartbeat: %w", r.RunID, r.Err))
			out = append(out, orphans...)
			continue
		}
		if !r.Status.Dead() || opts.DryRun {
			out = append(out, orphans...)
			continue
		}
		failed := false
		for i := range orphans {
			o := &orphans[i]
			var ferrs []error
			for _, t := range o.Objects {
				logger.Info("recovering from marks", "run", o.RunID, "step", o.Fault, "target", t.String(), "heartbeat", o.Heartbeat.String())
				if err := c.Marks.Revert(ctx, o.RunID, o.Fault, t); err != nil {
					ferrs = append(ferrs, fmt.Errorf("%s: %w", t, err))
				}
			}
			o.Err = errors.Join(ferrs...)
			o.Reverted = o.Err == nil
			if o.Err != nil {
				failed = true
				errs = append(errs, fmt.Errorf("run %s step %s: %w", o.RunID, o.Fault, o.Err))
			}
		}
		out = append(out, orphans...)
		if !failed && r.Lease != nil {
			if err := lease.Delete(ctx, c.Client, r.Lease); err != nil {
				errs = append(errs, fmt.Errorf("run %s: %w", r.RunID, err))
			}
		}
	}
	if !opts.DryRun {
		if err := c.deleteStaleHeartbeats(ctx, namespaces, judged, opts.Grace); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// groupByFault splits a run's marked objects by step, in the order first
// seen.
func groupByFault(r *Run) []Orphan {
	var out []Orphan
	index := map[string]int{}
	for _, mo := range r.Objects {
		i, ok := index[mo.Fault]
		if !ok {
			i = len(out)
			index[mo.Fault] = i
			out = append(out, Orphan{RunID: r.RunID, Fault: mo.Fault, Heartbeat: r.Status})
		}
		out[i].Objects = append(out[i].Objects, mo.Target)
	}
	return out
}

// deleteStaleHeartbeats deletes the stale heartbeats of namespaces whose
// runs have no marks left (a run that died between faults, or whose faults
// were reverted from its journal on a machine that could not delete it).
func (c Cluster) deleteStaleHeartbeats(ctx context.Context, namespaces []string, withMarks map[string]bool, grace time.Duration) error {
	leases, err := lease.List(ctx, c.Client, namespaces)
	if err != nil {
		return err
	}
	now := c.Clock.Now()
	var errs []error
	for i := range leases {
		l := &leases[i]
		run := lease.RunOf(l)
		key := lease.Key{Namespace: l.Namespace, Name: l.Name}
		if withMarks[run] || !lease.Judge(key, l, run, now, grace).Dead() {
			continue
		}
		log.FromContext(ctx).Info("deleting a stale heartbeat with no marks", "run", run, "lease", key.String())
		if err := lease.Delete(ctx, c.Client, l); err != nil && !errors.Is(err, lease.ErrRenewed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
