package backend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/controller/reportarchive"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// Live answers for the runs this replica runs (*drillrun.Runner).
type Live interface {
	// Snapshot is the live report of run uid; nil when this replica does
	// not run it.
	Snapshot(uid types.UID) *report.Report
}

// Reports reads archived reports (*reportarchive.Archive).
type Reports interface {
	// Read returns one file of a run's report by API format, or
	// reportarchive.ErrNotFound.
	Read(ctx context.Context, run *v1alpha1.DrillRun, format string) ([]byte, error)
}

// Options configure a Backend.
type Options struct {
	// Client reads through the manager's cache (with the runs.RunsByPlan
	// index) and writes to the API server. Required.
	Client client.Client
	// APIReader reads one run's full status (the cache keeps a finished
	// run's summary only, runs.Summarize); nil means Client.
	APIReader client.Reader
	// Scheme is the client's scheme. Required.
	Scheme *runtime.Scheme
	// Reports reads archived reports. Required.
	Reports Reports
	// Live answers for runs in progress here; nil answers from status.
	Live Live
	// ReportURL is the URL the API serves a run's report file at, by
	// format; nil lists no URLs.
	ReportURL func(namespace, id, format string) string
}

// Backend is a server.Backend over the API server.
type Backend struct {
	opts Options
}

var _ server.Backend = (*Backend)(nil)

// New returns a Backend.
func New(opts Options) (*Backend, error) {
	if opts.Client == nil || opts.Scheme == nil || opts.Reports == nil {
		return nil, errors.New("backend: client, scheme and reports are required")
	}
	if opts.APIReader == nil {
		opts.APIReader = opts.Client
	}
	return &Backend{opts: opts}, nil
}

// Plans implements server.Backend.
func (b *Backend) Plans(ctx context.Context) ([]server.Plan, error) {
	var plans v1alpha1.DrillPlanList
	if err := b.opts.Client.List(ctx, &plans, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing plans: %w", err)
	}
	var all v1alpha1.DrillRunList
	if err := b.opts.Client.List(ctx, &all, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	byKey := make(map[types.NamespacedName]*v1alpha1.DrillRun, len(all.Items))
	for i := range all.Items {
		r := &all.Items[i]
		byKey[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] = r
	}
	out := make([]server.Plan, 0, len(plans.Items))
	for i := range plans.Items {
		p := &plans.Items[i]
		sp := server.Plan{Namespace: p.Namespace, Name: p.Name, Platform: p.Spec.Target.Platform,
			Schedule: p.Spec.Schedule, TimeZone: p.Spec.TimeZone, Suspend: p.Spec.Suspend}
		if t := p.Status.NextScheduleTime; t != nil && !p.Spec.Suspend {
			next := t.UTC()
			sp.NextRun = &next
		}
		if l := p.Status.LastRun; l != nil {
			if r, ok := byKey[types.NamespacedName{Namespace: p.Namespace, Name: l.Name}]; ok {
				run := b.run(r)
				sp.LastRun = &run
			}
		}
		for _, a := range p.Status.Active {
			if r, ok := byKey[types.NamespacedName{Namespace: p.Namespace, Name: a.Name}]; ok {
				sp.Active = append(sp.Active, b.run(r))
			}
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, conditions.Stalled); c != nil && c.Status == "True" {
			sp.Error = c.Message
		}
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b server.Plan) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Runs implements server.Backend: newest first, by creation.
func (b *Backend) Runs(ctx context.Context, f server.RunFilter) ([]server.Run, error) {
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if f.Namespace != "" {
		opts = append(opts, client.InNamespace(f.Namespace))
	}
	if f.Plan != "" {
		opts = append(opts, client.MatchingFields{runs.RunsByPlan: f.Plan})
	}
	var list v1alpha1.DrillRunList
	if err := b.opts.Client.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	items := make([]*v1alpha1.DrillRun, 0, len(list.Items))
	for i := range list.Items {
		r := &list.Items[i]
		if (f.Verdict != "" && r.Status.Verdict != f.Verdict) || (f.Phase != "" && phase(r) != f.Phase) {
			continue
		}
		items = append(items, r)
	}
	slices.SortFunc(items, func(a, b *v1alpha1.DrillRun) int {
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), cmp.Compare(b.Namespace, a.Namespace), cmp.Compare(b.Name, a.Name))
	})
	if f.Limit > 0 && len(items) > f.Limit {
		items = items[:f.Limit]
	}
	out := make([]server.Run, len(items))
	for i, r := range items {
		out[i] = b.run(r)
	}
	return out, nil
}

// Run implements server.Backend: the live snapshot of a run this replica
// runs, the archived report of a finished one, or else a report of what
// its status holds.
func (b *Backend) Run(ctx context.Context, namespace, id string) (server.Run, *report.Report, error) {
	r, err := b.get(ctx, b.opts.APIReader, namespace, id)
	if err != nil {
		return server.Run{}, nil, err
	}
	if b.opts.Live != nil {
		if rep := b.opts.Live.Snapshot(r.UID); rep != nil {
			return b.run(r), rep, nil
		}
	}
	if r.Status.Report != nil {
		data, err := b.opts.Reports.Read(ctx, r, server.FormatJSON)
		switch {
		case err == nil:
			rep, err := report.Read(data)
			if err != nil {
				return server.Run{}, nil, fmt.Errorf("run %s/%s: %w", namespace, id, err)
			}
			return b.run(r), rep, nil
		case !errors.Is(err, reportarchive.ErrNotFound):
			return server.Run{}, nil, fmt.Errorf("run %s/%s: %w", namespace, id, err)
		}
	}
	rep := &report.Report{Schema: report.SchemaVersion, RunID: namespace + "." + id, Trigger: r.Spec.Trigger,
		Plan: report.Plan{Name: planName(r), Hash: r.Spec.PlanHash}, RunResult: *r.Status.RunResult.DeepCopy()}
	if s := r.Status.PlanSpec; s != nil {
		rep.Plan.Spec = *s.DeepCopy()
	}
	return b.run(r), rep, nil
}

// Trigger implements server.Backend: a DrillRun of the plan with trigger
// api, refused (ErrConflict) while a run of the plan is active unless its
// concurrencyPolicy is Allow.
func (b *Backend) Trigger(ctx context.Context, namespace, plan string, by server.User) (server.Run, error) {
	var p v1alpha1.DrillPlan
	if err := b.opts.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: plan}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return server.Run{}, fmt.Errorf("%w: plan %s/%s", server.ErrNotFound, namespace, plan)
		}
		return server.Run{}, fmt.Errorf("reading plan %s/%s: %w", namespace, plan, err)
	}
	items, err := runs.PlanRuns(ctx, b.opts.Client, namespace, plan, client.UnsafeDisableDeepCopy)
	if err != nil {
		return server.Run{}, err
	}
	if err := runs.RefuseConcurrent(&p, items); err != nil {
		return server.Run{}, fmt.Errorf("%w: %w", server.ErrConflict, err)
	}
	run, err := runs.ForPlan(&p, runs.Options{Trigger: v1alpha1.TriggerAPI, RequestedBy: by.Name}, b.opts.Scheme)
	if err != nil {
		return server.Run{}, err
	}
	if err := b.opts.Client.Create(ctx, run); err != nil {
		return server.Run{}, fmt.Errorf("creating a run of plan %s/%s: %w", namespace, plan, err)
	}
	return b.run(run), nil
}

// Abort implements server.Backend: spec.abort on an active run, with the
// reason and who asked in its abort-reason annotation.
func (b *Backend) Abort(ctx context.Context, namespace, id, reason string, by server.User) error {
	r, err := b.get(ctx, b.opts.Client, namespace, id)
	if err != nil {
		return err
	}
	if r.Status.Phase.IsTerminal() {
		return fmt.Errorf("%w: run %s/%s already finished (%s)", server.ErrConflict, namespace, id, r.Status.Phase)
	}
	if reason == "" {
		reason = "aborted through the API"
	}
	if by.Name != "" {
		reason += " (by " + by.Name + ")"
	}
	if _, err := runs.RequestAbort(ctx, b.opts.Client, types.NamespacedName{Namespace: namespace, Name: id}, reason); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: run %s/%s", server.ErrNotFound, namespace, id)
		}
		return err
	}
	return nil
}

// Report implements server.Backend.
func (b *Backend) Report(ctx context.Context, namespace, id, format string) ([]byte, error) {
	r, err := b.get(ctx, b.opts.Client, namespace, id)
	if err != nil {
		return nil, err
	}
	if r.Status.Report == nil {
		return nil, fmt.Errorf("%w: run %s/%s has no report yet", server.ErrNotFound, namespace, id)
	}
	data, err := b.opts.Reports.Read(ctx, r, format)
	if errors.Is(err, reportarchive.ErrNotFound) {
		return nil, fmt.Errorf("%w: report %s of run %s/%s", server.ErrNotFound, format, namespace, id)
	}
	return data, err
}

func (b *Backend) get(ctx context.Context, c client.Reader, namespace, id string) (*v1alpha1.DrillRun, error) {
	var r v1alpha1.DrillRun
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: id}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: run %s/%s", server.ErrNotFound, namespace, id)
		}
		return nil, fmt.Errorf("reading run %s/%s: %w", namespace, id, err)
	}
	return &r, nil
}

// run is a DrillRun as the API lists it.
func (b *Backend) run(r *v1alpha1.DrillRun) server.Run {
	st := &r.Status
	out := server.Run{Namespace: r.Namespace, ID: r.Name, Plan: planName(r), Trigger: r.Spec.Trigger, Phase: phase(r),
		Verdict: st.Verdict, Message: st.Message, CurrentStep: st.CurrentStep, WorstRecovery: st.WorstRecovery}
	if out.Trigger == "" {
		out.Trigger = v1alpha1.TriggerManual
	}
	if t := st.StartTime; t != nil {
		out.StartTime = ptrTime(t.Time)
	}
	if t := st.CompletionTime; t != nil {
		out.CompletionTime = ptrTime(t.Time)
	}
	if st.Report != nil && b.opts.ReportURL != nil {
		out.Reports = map[string]string{}
		for format := range reportarchive.Files {
			out.Reports[format] = b.opts.ReportURL(r.Namespace, r.Name, format)
		}
	}
	return out
}

func phase(r *v1alpha1.DrillRun) v1alpha1.RunPhase {
	if r.Status.Phase == "" {
		return v1alpha1.RunPending
	}
	return r.Status.Phase
}

func planName(r *v1alpha1.DrillRun) string { return runs.PlanName(r) }

func ptrTime(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
