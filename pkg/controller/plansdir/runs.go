package plansdir

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/state"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/engine/cleanup"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// activeRun is a run the runner created and has not yet stored in the
// history. Its fields after rec are guarded by Runner.mu.
type activeRun struct {
	rec  state.Run
	plan *plan.Plan

	// drill is the engine's run once it started.
	drill Drill
	// abortReason is an abort asked for before the drill existed.
	abortReason string
	// final is the final report once the run finished; the run stays
	// until the report is in the history.
	final *report.Report

	// step is the step in progress, from the engine's events.
	stepMu sync.Mutex
	step   string
}

// newRun is a run of p the runner is about to create.
func (r *Runner) newRun(p *plan.Plan, id string, trigger v1alpha1.Trigger, scheduled *time.Time) *activeRun {
	return &activeRun{plan: p, rec: state.Run{
		ID: id, Trigger: trigger, Scheduled: scheduled, Created: r.opts.Clock.Now(),
		Plan: report.Plan{Name: p.Name, Source: p.Source, Hash: p.Hash(), Spec: p.Spec},
	}}
}

// abort stops the run, or, before it started, makes sure it never does.
// The caller holds Runner.mu.
func (a *activeRun) abort(reason string) {
	if a.drill != nil {
		a.drill.Abort(reason)
		return
	}
	if a.abortReason == "" {
		a.abortReason = reason
	}
}

// observe takes the engine's events (engine.Observer); it never blocks on
// the runner.
func (a *activeRun) observe(ev engine.Event) {
	if ev.Type == engine.EventStep {
		a.stepMu.Lock()
		a.step = ev.Step
		a.stepMu.Unlock()
	}
}

func (a *activeRun) currentStep() string {
	a.stepMu.Lock()
	defer a.stepMu.Unlock()
	return a.step
}

// phase is the run's phase now. The caller holds Runner.mu.
func (a *activeRun) phase() v1alpha1.RunPhase {
	switch {
	case a.final != nil:
		return a.final.Phase
	case a.drill != nil:
		return v1alpha1.RunRunning
	}
	return v1alpha1.RunPending
}

// schedulerRun is the run as the schedule rules see it. The caller holds
// Runner.mu.
func (a *activeRun) schedulerRun() scheduler.Run {
	s := scheduler.Run{Name: a.rec.ID, Phase: a.phase()}
	if a.rec.Scheduled != nil {
		s.Scheduled = *a.rec.Scheduled
	}
	if a.final != nil && a.final.CompletionTime != nil {
		s.Completed = a.final.CompletionTime.Time
	}
	return s
}

// launch runs a created run in its own goroutine and hands its final
// report to the worker.
func (r *Runner) launch(ctx context.Context, run *activeRun) {
	r.runs.Add(1)
	go func() {
		defer r.runs.Done()
		rep := r.execute(ctx, run)
		// Kept first: if the worker is gone (Stop gave up waiting) or
		// drill serve dies now, the next start stores it as it is.
		if err := r.state.WriteLive(run.rec.ID, r.opts.Clock.Now(), rep); err != nil {
			r.logger.Error("keeping the final report of a run", "run", run.rec.ID, "err", err)
		}
		r.submit(func(ctx context.Context) { r.finish(ctx, run, rep) })
	}()
}

// execute builds the run's platform, starts the drill, keeps snapshots of
// it while it goes and returns its final report. A run that cannot start
// gets a report of its own saying why.
func (r *Runner) execute(ctx context.Context, run *activeRun) *report.Report {
	r.mu.Lock()
	reason := run.abortReason
	r.mu.Unlock()
	if reason != "" {
		return r.unstarted(run, v1alpha1.RunAborted, reason+"; the run was aborted before it started: nothing was touched")
	}
	spec := &run.plan.Spec
	pf, err := r.opts.Platforms(ctx, spec)
	if err != nil {
		return r.unstarted(run, v1alpha1.RunError, fmt.Sprintf("building platform %s: %s", spec.Target.Platform, err))
	}
	drill, err := r.opts.Start(ctx, run.plan, engine.RunOptions{Platform: pf, RunID: run.rec.ID, Trigger: run.rec.Trigger, Observer: run.observe})
	if err != nil {
		return r.unstarted(run, v1alpha1.RunError, err.Error())
	}
	r.mu.Lock()
	run.drill = drill
	if run.abortReason != "" {
		drill.Abort(run.abortReason)
	}
	r.mu.Unlock()
	r.logger.Info("run started", "plan", run.plan.Name, "run", run.rec.ID, "trigger", run.rec.Trigger)

	r.opts.Observer.RunUpdated(drill.Snapshot())
	ticker := r.opts.Clock.NewTicker(r.opts.SnapshotInterval)
	defer ticker.Stop()
	updates := r.opts.Clock.NewTicker(r.opts.UpdateInterval)
	defer updates.Stop()
	for running := true; running; {
		select {
		case <-drill.Done():
			running = false
		case <-ticker.C():
			if err := r.state.WriteLive(run.rec.ID, r.opts.Clock.Now(), drill.Snapshot()); err != nil {
				r.logger.Warn("keeping a snapshot of a run in progress", "run", run.rec.ID, "err", err)
			}
		case <-updates.C():
			r.opts.Observer.RunUpdated(drill.Snapshot())
		}
	}
	rep, err := drill.Wait()
	if err != nil {
		// The report stands; the journal is left for the next cleanup.
		r.logger.Error("finishing the run's journal", "run", run.rec.ID, "err", err)
	}
	if rep == nil {
		return r.unstarted(run, v1alpha1.RunError, "the run ended without a report")
	}
	return rep
}

// unstarted is the report of a run that never started its drill.
func (r *Runner) unstarted(run *activeRun, phase v1alpha1.RunPhase, msg string) *report.Report {
	now := metav1.NewMicroTime(r.opts.Clock.Now())
	rep := state.BareReport(run.rec, r.opts.Tool)
	rep.Phase, rep.Verdict, rep.Message = phase, v1alpha1.VerdictNotJudged, msg
	rep.CompletionTime = &now
	return rep
}

// finish stores a finished run. The caller is the worker.
func (r *Runner) finish(ctx context.Context, run *activeRun, rep *report.Report) {
	r.mu.Lock()
	run.final = rep
	r.mu.Unlock()
	r.store(ctx, run)
	r.dirty[run.rec.Plan.Name] = true
}

// store puts a finished run in the history and forgets it; a failure is
// tried again later. The caller is the worker, or Start.
func (r *Runner) store(ctx context.Context, run *activeRun) bool {
	rep := run.final
	if err := r.opts.History.Put(ctx, rep); err != nil {
		r.logger.Error("storing the report of a run; trying again", "run", rep.RunID, "err", err, "in", r.opts.RetryInterval)
		r.retryAt = r.opts.Clock.Now().Add(r.opts.RetryInterval)
		return false
	}
	r.mu.Lock()
	delete(r.active, rep.RunID)
	r.mu.Unlock()
	if r.save() {
		if err := r.state.RemoveLive(rep.RunID); err != nil {
			r.logger.Warn("removing a stored run's snapshot", "run", rep.RunID, "err", err)
		}
	}
	r.logger.Info("run finished", "plan", rep.Plan.Name, "run", rep.RunID, "phase", rep.Phase, "verdict", rep.Verdict, "message", rep.Message)
	r.opts.Observer.RunFinished(rep)
	return true
}

// retry stores the runs whose reports could not be stored and writes the
// state again if that failed. The caller is the worker.
func (r *Runner) retry(ctx context.Context) {
	r.mu.Lock()
	var pending []*activeRun
	for _, run := range r.active {
		if run.final != nil {
			pending = append(pending, run)
		}
	}
	r.mu.Unlock()
	for _, run := range pending {
		if r.store(ctx, run) {
			r.dirty[run.rec.Plan.Name] = true
		}
	}
	if r.saveAgain {
		r.save()
	}
}

// recover reverts the faults that dead runs left (the journal) and stores
// the runs the last drill serve did not: as they ended if they ended, as
// Error if it died while they went. The caller is Start.
func (r *Runner) recover(ctx context.Context, st state.File) error {
	r.statuses = st.Plans
	leftovers, err := cleanup.Run(ctx, cleanup.Options{JournalDir: r.opts.JournalDir, Platforms: r.opts.Platforms, Clock: r.opts.Clock})
	reverted := map[string][]string{}
	for _, l := range leftovers {
		r.logger.Warn("a run that died left a fault", "run", l.RunID, "plan", l.Plan, "fault", l.String())
		reverted[l.RunID] = append(reverted[l.RunID], l.String())
	}
	if err != nil {
		return fmt.Errorf("faults left by runs that died could not be reverted; nothing runs until they are (drill cleanup --state-dir): %w", err)
	}
	for _, rec := range st.Active {
		run := &activeRun{rec: rec, final: r.state.DeadReport(rec, reverted[rec.ID], r.opts.Tool)}
		r.active[rec.ID] = run
		if run.final.Phase == v1alpha1.RunError && strings.HasPrefix(run.final.Message, state.DiedMessage) {
			r.logger.Warn("a run was going when drill serve stopped; stored as Error", "plan", rec.Plan.Name, "run", rec.ID)
		}
		r.store(ctx, run)
	}
	if !r.save() {
		return fmt.Errorf("writing the serve state in %s", r.opts.StateDir)
	}
	return nil
}
