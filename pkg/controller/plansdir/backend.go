package plansdir

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

var _ server.Backend = (*Runner)(nil)

// Plans implements server.Backend: every plan, by name, then the files
// that provide none because their only version was refused.
func (r *Runner) Plans(ctx context.Context) ([]server.Plan, error) {
	r.mu.Lock()
	out := make([]server.Plan, 0, r.plans.Len())
	for ps := range r.plans.All() {
		spec := &ps.Plan.Spec
		p := server.Plan{Name: ps.Plan.Name, Source: ps.File, Platform: spec.Target.Platform, Schedule: spec.Schedule,
			TimeZone: spec.TimeZone, Suspend: spec.Suspend, Error: r.plans.Problems(ps.File)}
		if stalled := r.stalled[p.Name]; stalled != "" {
			p.Error = strings.TrimPrefix(p.Error+"\n"+stalled, "\n")
		}
		if next := r.statuses[p.Name].NextScheduleTime; next != nil && spec.Schedule != "" && !spec.Suspend {
			t := next.UTC()
			p.NextRun = &t
		}
		for _, run := range r.active {
			if run.rec.Plan.Name == p.Name && !run.phase().IsTerminal() {
				p.Active = append(p.Active, r.apiRun(run))
			}
		}
		slices.SortFunc(p.Active, newestFirst)
		out = append(out, p)
	}
	var orphans []server.Plan
	for path, problems := range r.plans.Refused() {
		orphans = append(orphans, server.Plan{Source: path, Error: problems})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b server.Plan) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(orphans, func(a, b server.Plan) int { return cmp.Compare(a.Source, b.Source) })
	for i := range out {
		last, err := r.Runs(ctx, server.RunFilter{Plan: out[i].Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			out[i].LastRun = &last[0]
		}
	}
	return append(out, orphans...), nil
}

// Runs implements server.Backend: the runs in progress and those in the
// history, newest first. Plans on one machine have no namespace.
func (r *Runner) Runs(ctx context.Context, f server.RunFilter) ([]server.Run, error) {
	if f.Namespace != "" {
		return []server.Run{}, nil
	}
	q := Query{Plan: f.Plan, Verdict: f.Verdict, Phase: f.Phase, Limit: f.Limit}
	// The runs in progress first, then the history: a run stored in
	// between is in both, and its stored copy (with its reports) wins.
	r.mu.Lock()
	active := make(map[string]server.Run, len(r.active))
	for id, run := range r.active {
		if a := r.apiRun(run); q.Matches(&Entry{Plan: a.Plan, Verdict: a.Verdict, Phase: a.Phase}) {
			active[id] = a
		}
	}
	r.mu.Unlock()
	hist, err := r.opts.History.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]server.Run, 0, len(hist)+len(active))
	for i := range hist {
		delete(active, hist[i].ID)
		out = append(out, apiEntry(&hist[i]))
	}
	for _, a := range active {
		out = append(out, a)
	}
	slices.SortFunc(out, newestFirst)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// newestFirst orders runs by start time, newest first, then by id.
func newestFirst(a, b server.Run) int {
	var at, bt time.Time
	if a.StartTime != nil {
		at = *a.StartTime
	}
	if b.StartTime != nil {
		bt = *b.StartTime
	}
	return cmp.Or(bt.Compare(at), cmp.Compare(b.ID, a.ID))
}

// Run implements server.Backend: a run in progress with its live report,
// or a finished one with its report.json.
func (r *Runner) Run(ctx context.Context, namespace, id string) (server.Run, *report.Report, error) {
	if namespace != "" {
		return server.Run{}, nil, fmt.Errorf("run %q in namespace %q: %w", id, namespace, server.ErrNotFound)
	}
	r.mu.Lock()
	var final *report.Report
	if run := r.active[id]; run != nil {
		out, drill := r.apiRun(run), run.drill
		final = run.final
		r.mu.Unlock()
		switch {
		case final != nil:
			// Being stored: the stored copy, once there, has its reports.
		case drill != nil:
			return out, drill.Snapshot(), nil
		default:
			return out, nil, nil
		}
		if _, err := r.opts.History.Get(ctx, id); err != nil {
			return out, final, nil //nolint:nilerr // not stored yet: the runner's copy.
		}
	} else {
		r.mu.Unlock()
	}
	e, err := r.opts.History.Get(ctx, id)
	if err != nil {
		return server.Run{}, nil, err
	}
	data, err := r.opts.History.File(ctx, id, server.FormatJSON)
	if err != nil {
		return server.Run{}, nil, err
	}
	rep, err := report.Read(data)
	if err != nil {
		return server.Run{}, nil, fmt.Errorf("run %s: %w", id, err)
	}
	return apiEntry(&e), rep, nil
}

// Trigger implements server.Backend: the run starts now, on the same path
// as a scheduled one. A plan with a run in progress refuses another
// unless its concurrencyPolicy is Allow.
func (r *Runner) Trigger(ctx context.Context, namespace, name string, by server.User) (server.Run, error) {
	if namespace != "" {
		return server.Run{}, fmt.Errorf("plan %q in namespace %q: %w (plans on one machine have no namespace)", name, namespace, server.ErrNotFound)
	}
	var out server.Run
	err := r.call(ctx, func(ctx context.Context) error {
		r.mu.Lock()
		ps, stopping := r.plans.Plan(name), r.stopping
		var going []string
		for _, run := range r.active {
			if run.rec.Plan.Name == name && !run.phase().IsTerminal() {
				going = append(going, run.rec.ID)
			}
		}
		r.mu.Unlock()
		switch {
		case stopping:
			return errStopped
		case ps == nil:
			return fmt.Errorf("plan %q: %w", name, server.ErrNotFound)
		case len(going) > 0 && ps.Plan.Spec.ConcurrencyPolicy != v1alpha1.ConcurrencyAllow:
			slices.Sort(going)
			return fmt.Errorf("%w: plan %s has run %s in progress and its concurrencyPolicy is %s, not Allow; abort it or wait for it to finish",
				server.ErrConflict, name, strings.Join(going, ", "), cmp.Or(ps.Plan.Spec.ConcurrencyPolicy, v1alpha1.ConcurrencyForbid))
		}
		run := r.newRun(ps.Plan, engine.NewRunID(name, r.opts.Clock.Now()), v1alpha1.TriggerAPI, nil)
		r.mu.Lock()
		r.active[run.rec.ID] = run
		r.mu.Unlock()
		if !r.save() {
			r.mu.Lock()
			delete(r.active, run.rec.ID)
			r.mu.Unlock()
			return errors.New("the run could not be recorded in the state directory; nothing was started")
		}
		r.logger.Info("run created on request", "plan", name, "run", run.rec.ID, "user", by.Name)
		r.launch(ctx, run)
		r.dirty[name] = true
		r.mu.Lock()
		out = r.apiRun(run)
		r.mu.Unlock()
		return nil
	})
	return out, err
}

// Abort implements server.Backend.
func (r *Runner) Abort(ctx context.Context, namespace, id, reason string, by server.User) error {
	if namespace != "" {
		return fmt.Errorf("run %q in namespace %q: %w", id, namespace, server.ErrNotFound)
	}
	msg := "aborted by " + by.Name + " through the API"
	if reason != "" {
		msg += ": " + reason
	}
	r.mu.Lock()
	run := r.active[id]
	if run != nil && run.final == nil {
		run.abort(msg)
		r.mu.Unlock()
		r.logger.Info("run aborted on request", "run", id, "user", by.Name, "reason", reason)
		return nil
	}
	r.mu.Unlock()
	if run != nil {
		return fmt.Errorf("%w: run %s has finished (%s)", server.ErrConflict, id, run.final.Phase)
	}
	e, err := r.opts.History.Get(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: run %s has finished (%s)", server.ErrConflict, id, e.Phase)
}

// Report implements server.Backend: a finished run's report file.
func (r *Runner) Report(ctx context.Context, namespace, id, format string) ([]byte, error) {
	if namespace != "" {
		return nil, fmt.Errorf("run %q in namespace %q: %w", id, namespace, server.ErrNotFound)
	}
	r.mu.Lock()
	run := r.active[id]
	r.mu.Unlock()
	if run != nil {
		return nil, fmt.Errorf("run %s has no %s report yet: it is written when the run has finished (%w)", id, format, server.ErrNotFound)
	}
	return r.opts.History.File(ctx, id, format)
}

// apiRun is a run in progress as the API lists it. The caller holds
// r.mu.
func (r *Runner) apiRun(run *activeRun) server.Run {
	created := run.rec.Created.UTC()
	out := server.Run{ID: run.rec.ID, Plan: run.rec.Plan.Name, Trigger: run.rec.Trigger, Phase: run.phase(),
		StartTime: &created, CurrentStep: run.currentStep()}
	if rep := run.final; rep != nil {
		e := EntryOf(rep, nil)
		out = apiEntry(&e)
	}
	return out
}

// apiEntry is a stored run as the API lists it.
func apiEntry(e *Entry) server.Run {
	out := server.Run{ID: e.ID, Plan: e.Plan, Trigger: e.Trigger, Phase: e.Phase, Verdict: e.Verdict, Message: e.Message,
		WorstRecovery: e.WorstRecovery}
	if !e.StartTime.IsZero() {
		t := e.StartTime.UTC()
		out.StartTime = &t
	}
	if !e.CompletionTime.IsZero() {
		t := e.CompletionTime.UTC()
		out.CompletionTime = &t
	}
	if len(e.Formats) > 0 {
		out.Reports = formatSet(e.Formats)
	}
	return out
}

// formatSets are the Reports maps of the format lists seen, shared by the
// runs that have the same: the API reads a Backend's Reports and never
// changes them, and a listing of thousands of runs allocates no map.
var formatSets sync.Map

// formatSet is the Reports map of formats: each format to itself. Callers
// must not change it.
func formatSet(formats []string) map[string]string {
	key := strings.Join(formats, ",")
	if m, ok := formatSets.Load(key); ok {
		return m.(map[string]string)
	}
	m := make(map[string]string, len(formats))
	for _, f := range formats {
		m[f] = f
	}
	actual, _ := formatSets.LoadOrStore(key, m)
	return actual.(map[string]string)
}
