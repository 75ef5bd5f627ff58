package plansdir

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// reconcile applies the schedule rules to a plan and acts on the
// decision, in the order the rules ask: abort, create, write the status,
// prune. Creating a run and writing the status are one write of the state
// file, made before the run starts: a crash after it finds the run (and
// stores it as Error); a crash before it owes the same fire again. The
// caller is the worker.
func (r *Runner) reconcile(ctx context.Context, name string) {
	r.mu.Lock()
	ps := r.plans.Plan(name)
	r.mu.Unlock()
	if ps == nil {
		return // removed
	}
	now := r.opts.Clock.Now()
	d, hist, err := r.decide(ctx, ps, now)
	if err != nil {
		r.mu.Lock()
		stalled := r.stalled[name] != err.Error()
		r.stalled[name] = err.Error()
		r.mu.Unlock()
		if stalled {
			r.logger.Error("the plan's schedule cannot be decided until it changes", "plan", name, "err", err)
		}
		return
	}
	r.mu.Lock()
	delete(r.stalled, name)
	stopping := r.stopping
	r.mu.Unlock()
	if stopping && d.Start != nil {
		return // the fire stays owed to the next start
	}

	for _, id := range d.Abort {
		r.abortRun(id, "concurrencyPolicy Replace: a new fire of the plan replaces this run")
	}
	var created *activeRun
	if f := d.Start; f != nil && !slices.ContainsFunc(hist, func(e Entry) bool { return e.ID == f.RunName }) {
		fire := f.Time
		created = r.newRun(ps.Plan, f.RunName, v1alpha1.TriggerSchedule, &fire)
	}
	r.mu.Lock()
	was, had := r.statuses[name]
	changed := !had || !equality.Semantic.DeepEqual(was, d.Status)
	r.statuses[name] = d.Status
	if created != nil {
		r.active[created.rec.ID] = created
	}
	r.mu.Unlock()
	if changed || created != nil {
		if !r.save() {
			// Nothing was created: undo and decide again later.
			r.mu.Lock()
			if had {
				r.statuses[name] = was
			} else {
				delete(r.statuses, name)
			}
			if created != nil {
				delete(r.active, created.rec.ID)
			}
			r.mu.Unlock()
			r.due[name] = now.Add(r.opts.RetryInterval)
			return
		}
	}
	if created != nil {
		r.logger.Info("scheduled run created", "plan", name, "run", created.rec.ID, "fire", d.Start.Time, "late", d.Start.Late.Round(time.Millisecond))
		r.launch(ctx, created)
	}
	if d.Reason == scheduler.ReasonMissed || d.Reason == scheduler.ReasonWaiting || d.Reason == scheduler.ReasonReplacing {
		r.logger.Info("schedule decision", "plan", name, "reason", d.Reason, "message", d.Message)
	} else {
		r.logger.Debug("schedule decision", "plan", name, "reason", d.Reason, "message", d.Message)
	}
	if len(d.Prune) > 0 {
		if err := r.opts.History.Delete(ctx, d.Prune); err != nil {
			r.logger.Error("pruning runs beyond the history limits", "plan", name, "err", err)
		} else {
			r.logger.Info("pruned runs beyond the history limits", "plan", name, "runs", d.Prune)
		}
	}
	r.opts.Observer.Decided(ps.Plan, d)
	if d.RequeueAfter > 0 {
		r.due[name] = now.Add(d.RequeueAfter)
	} else {
		delete(r.due, name)
	}
}

// abortRun aborts a run in progress of the runner, if it is one.
func (r *Runner) abortRun(id, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if run := r.active[id]; run != nil && run.final == nil {
		run.abort(reason)
	}
}
