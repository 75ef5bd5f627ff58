package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/probe"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Engine runs drill plans.
type Engine struct {
	opts Options
}

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid engine options: %w", err)
	}
	opts.defaults()
	return &Engine{opts: opts}, nil
}

// abortError is the cancellation cause of an aborted run.
type abortError struct{ reason string }

func (e *abortError) Error() string { return e.reason }

// Objectives converts a plan's objectives for package slo.
func Objectives(o v1alpha1.Objectives) slo.Objectives {
	out := slo.Objectives{}
	if o.RTO != nil {
		out.RTO = o.RTO.Duration
	}
	if o.RPO != nil {
		d := o.RPO.Duration
		out.RPO = &d
	}
	if o.Availability != "" {
		out.Availability, _ = v1alpha1.ParsePercent(o.Availability)
	}
	if o.LatencyP99 != nil {
		out.LatencyP99 = o.LatencyP99.Duration
	}
	if o.Recovered.SuccessRate != "" {
		out.Recovered.SuccessRate, _ = v1alpha1.ParsePercent(o.Recovered.SuccessRate)
	}
	if o.Recovered.LatencyP99 != nil {
		out.Recovered.LatencyP99 = o.Recovered.LatencyP99.Duration
	}
	if o.Recovered.For != nil {
		out.Recovered.For = o.Recovered.For.Duration
	}
	return out
}

// run is the state of one drill.
type run struct {
	opts    *Options
	plan    *plan.Plan
	spec    *v1alpha1.DrillPlanSpec
	obj     slo.Objectives
	runID   string
	journal *journal.Journal
	prober  *probe.Prober
	rep     *report.Report
	start   time.Time
	// settle is how long after sending a sample is final (the probe
	// timeout): analysis only looks at samples that can no longer change.
	settle time.Duration

	mu       sync.Mutex
	capacity []slo.CapacityPoint
	// lastCapacity is the newest kept point of each workload: a sample
	// that changes nothing is not kept, so the series (and each analysis
	// of it, every tick) grows with changes, not with time.
	lastCapacity map[string]slo.CapacityPoint
	// sampledFrom is when the newest completed capacity sample started.
	sampledFrom time.Time
	models      []slo.ModelObservation
	published   []slo.ModelObservation
	active      map[string]*activeFault
	stepErrors  []string
	lastEnd     time.Time

	emitMu sync.Mutex
}

// activeFault is a fault that has been (or is being) injected.
type activeFault struct {
	fault    platform.Fault
	step     *v1alpha1.Step
	targets  []platform.Target
	injected []platform.Target
	report   *report.Fault
	reverted bool
}

// Run executes p and returns its report. The report is returned for
// aborted and failed runs too; an error means the run could not be
// recorded safely (the journal could not be written) and nothing was
// touched.
func (e *Engine) Run(ctx context.Context, p *plan.Plan) (*report.Report, error) {
	o := &e.opts
	runID := o.RunID
	if runID == "" {
		runID = p.Name + "-" + o.Clock.Now().UTC().Format("20060102T150405Z")
	}
	r := &run{
		opts: o, plan: p, spec: &p.Spec, obj: Objectives(p.Spec.Objectives), runID: runID,
		active: map[string]*activeFault{}, settle: v1alpha1.DefaultTimeout,
	}
	if p.Spec.Load.Timeout != nil {
		r.settle = p.Spec.Load.Timeout.Duration
	}
	r.settle += 50 * time.Millisecond
	r.start = o.Clock.Now()
	r.rep = &report.Report{
		Schema: report.SchemaVersion, RunID: runID, Tool: o.Tool, Platform: o.Platform.Name(),
		Plan:    report.Plan{Name: p.Name, Source: p.Source, Hash: p.Hash(), Spec: p.Spec},
		Started: r.start, Phase: v1alpha1.RunRunning,
	}
	j, err := journal.Create(o.JournalDir, journal.Record{
		RunID: runID, Plan: p.Name, PlanHash: r.rep.Plan.Hash, Spec: p.Spec, Platform: o.Platform.Name(), Started: r.start,
	}, o.Clock)
	if err != nil {
		return nil, fmt.Errorf("opening the run journal: %w", err)
	}
	r.journal = j
	r.execute(ctx)
	if err := j.Finish(string(r.rep.Phase)); err != nil {
		return r.rep, fmt.Errorf("closing the run journal: %w", err)
	}
	return r.rep, nil
}

func (r *run) emit(ev Event) {
	ev.At = r.opts.Clock.Now()
	ev.Elapsed = ev.At.Sub(r.start)
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.opts.Observer(ev)
}

func (r *run) fail(phase v1alpha1.RunPhase, msg string) {
	r.rep.Phase = phase
	r.rep.Message = msg
}

func (r *run) execute(ctx context.Context) {
	o := r.opts
	logger := log.FromContext(ctx).With("run", r.runID)
	r.emit(Event{Type: EventStarted, Message: fmt.Sprintf("run %s of plan %s on platform %s", r.runID, r.plan.Name, o.Platform.Name())})

	// Everything after this point must be undone even when ctx is
	// cancelled, so teardown uses a context that outlives it.
	teardown := context.WithoutCancel(ctx)
	info, err := o.Platform.Start(ctx)
	defer func() {
		stopCtx, cancel := context.WithTimeout(teardown, o.RevertTimeout)
		defer cancel()
		if err := o.Platform.Stop(stopCtx); err != nil {
			logger.Error("stopping the platform", "err", err)
			r.rep.Message = strings.TrimSpace(r.rep.Message + " stopping the platform: " + err.Error())
		}
	}()
	if err != nil {
		r.finish(teardown, nil)
		r.fail(v1alpha1.RunError, "starting platform "+o.Platform.Name()+": "+err.Error())
		return
	}
	r.rep.Endpoint = r.spec.System.Endpoint
	if r.rep.Endpoint == "" {
		r.rep.Endpoint = info.Endpoint
	}

	prober, err := r.newProber(ctx)
	if err != nil {
		r.finish(teardown, nil)
		r.fail(v1alpha1.RunError, err.Error())
		return
	}
	r.prober = prober

	// Probes and samplers run until the drill is over, through an abort
	// and its reverts, so those are measured too.
	sampleCtx, stopSampling := context.WithCancel(teardown)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := prober.Run(sampleCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("probe stopped", "err", err)
		}
	})
	wg.Go(func() { r.sampleCapacity(sampleCtx) })
	wg.Go(func() { r.sampleModels(sampleCtx) })

	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		r.monitor(runCtx, cancelRun)
	}()

	r.steps(runCtx, cancelRun)

	aborted := runCtx.Err() != nil
	if !aborted && r.rep.Baseline != nil && len(r.stepErrors) == 0 {
		r.finalCheck(runCtx)
		aborted = runCtx.Err() != nil
	}
	cause := context.Cause(runCtx)
	if aborted {
		r.emit(Event{Type: EventAborting, Message: abortMessage(cause), Active: r.activeNames()})
	}
	r.revertAll(teardown)
	cancelRun(nil)
	<-monitorDone
	stopSampling()
	wg.Wait()
	r.finish(teardown, cause)
	if aborted {
		r.fail(v1alpha1.RunAborted, abortMessage(cause))
	}
	r.emit(Event{Type: EventFinished, Message: fmt.Sprintf("%s: %s", r.rep.Phase, r.rep.Verdict)})
}

func abortMessage(cause error) string {
	var ae *abortError
	switch {
	case errors.As(cause, &ae):
		return "aborted: " + ae.reason
	case errors.Is(cause, context.Canceled):
		return "aborted: interrupted (signal or cancellation); every active fault was reverted"
	case cause != nil:
		return "aborted: " + cause.Error()
	}
	return "aborted"
}

// finish fills the whole-drill parts of the report and decides the phase.
func (r *run) finish(_ context.Context, _ error) {
	end := r.opts.Clock.Now()
	r.rep.Finished = end
	var samples []slo.Sample
	if r.prober != nil {
		samples = r.prober.Samples()
	}
	r.rep.Samples = len(samples)
	stats, verdicts := slo.Drill(samples, r.start, end, r.obj)
	r.rep.Overall = report.Check{Stats: stats, Verdicts: verdicts, Pass: allPass(verdicts)}
	r.rep.Series = slo.Series(samples, r.start, end, time.Second)
	r.mu.Lock()
	r.rep.Capacity = append([]slo.CapacityPoint(nil), r.capacity...)
	r.rep.Models = append([]slo.ModelObservation(nil), r.models...)
	stepErrors := r.stepErrors
	r.mu.Unlock()

	pass := r.rep.Overall.Pass
	if r.rep.Baseline != nil && !r.rep.Baseline.Pass {
		pass = false
	}
	if r.rep.Final != nil && !r.rep.Final.Pass {
		pass = false
	}
	for _, s := range r.rep.Steps {
		if s.Phase == v1alpha1.RunFailed || s.Phase == v1alpha1.RunError {
			pass = false
		}
	}
	switch {
	case len(stepErrors) > 0:
		r.rep.Phase = v1alpha1.RunError
		r.rep.Message = strings.Join(stepErrors, "; ")
	case pass:
		r.rep.Phase = v1alpha1.RunSucceeded
	default:
		r.rep.Phase = v1alpha1.RunFailed
	}
	r.rep.Verdict = v1alpha1.VerdictFail
	if r.rep.Phase == v1alpha1.RunSucceeded {
		r.rep.Verdict = v1alpha1.VerdictPass
	}
}

func allPass(vs []slo.Verdict) bool {
	for _, v := range vs {
		if !v.Pass {
			return false
		}
	}
	return true
}

func (r *run) stepError(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stepErrors = append(r.stepErrors, msg)
}

// groups splits steps into groups that start together.
func groups(steps []v1alpha1.Step) [][]int {
	var out [][]int
	for i, st := range steps {
		if st.Concurrent && len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], i)
			continue
		}
		out = append(out, []int{i})
	}
	return out
}

func (r *run) steps(ctx context.Context, abort context.CancelCauseFunc) {
	// Preflight: every fault must resolve within the safety limits before
	// anything is touched.
	for i := range r.spec.Steps {
		st := &r.spec.Steps[i]
		if st.Fault == nil {
			continue
		}
		if _, err := resolve(ctx, r.opts.Platform, r.spec, r.runID, st); err != nil {
			r.stepError("preflight: " + err.Error())
			return
		}
	}
	r.rep.Steps = make([]report.Step, len(r.spec.Steps))
	for i, st := range r.spec.Steps {
		kind := "wait"
		if st.Fault != nil {
			kind = "fault"
		}
		r.rep.Steps[i] = report.Step{Name: st.Name, Kind: kind, Phase: v1alpha1.RunPending}
	}
	done := map[string]bool{}
	if o := r.opts.Resume; o != nil {
		for _, name := range o.Completed {
			done[name] = true
		}
	}
	baselined := false
	for _, g := range groups(r.spec.Steps) {
		if ctx.Err() != nil {
			return
		}
		if skipped := r.skip(g, done); skipped {
			continue
		}
		hasFault := false
		for _, i := range g {
			hasFault = hasFault || r.spec.Steps[i].Fault != nil
		}
		if hasFault && !baselined {
			baselined = true
			if !r.baseline(ctx) {
				return
			}
		}
		var wg sync.WaitGroup
		for _, i := range g {
			wg.Go(func() { r.step(ctx, abort, i) })
		}
		wg.Wait()
		r.mu.Lock()
		failed := len(r.stepErrors) > 0
		r.mu.Unlock()
		if failed {
			abort(&abortError{reason: "a step could not run: " + strings.Join(r.stepErrors, "; ")})
			return
		}
	}
}

// skip marks a group as done by the resumed run when all of its steps
// completed there.
func (r *run) skip(g []int, done map[string]bool) bool {
	for _, i := range g {
		if !done[r.spec.Steps[i].Name] {
			return false
		}
	}
	for _, i := range g {
		rs := &r.rep.Steps[i]
		rs.Phase = v1alpha1.RunSucceeded
		rs.Message = "completed by run " + r.opts.Resume.RunID
		r.emit(Event{Type: EventStep, Step: rs.Name, Message: "skipped: " + rs.Message})
		_ = r.journal.StepDone(rs.Name)
	}
	return true
}

func (r *run) step(ctx context.Context, abort context.CancelCauseFunc, i int) {
	defer func() {
		if rs := &r.rep.Steps[i]; rs.Phase == v1alpha1.RunSucceeded || rs.Phase == v1alpha1.RunFailed {
			if err := r.journal.StepDone(rs.Name); err != nil {
				log.FromContext(ctx).Error("journaling a finished step", "err", err)
			}
		}
	}()
	st := &r.spec.Steps[i]
	rs := &r.rep.Steps[i]
	rs.Started = r.opts.Clock.Now()
	rs.Phase = v1alpha1.RunRunning
	desc := "wait"
	if st.Fault != nil {
		desc = FaultType(st.Fault)
	}
	if st.Wait != nil {
		desc = "wait " + report.FormatDuration(st.Wait.Duration)
	}
	r.emit(Event{Type: EventStep, Step: st.Name, Message: desc, Active: r.activeNames()})
	if st.Wait != nil {
		r.sleep(ctx, st.Wait.Duration)
		rs.Finished = r.opts.Clock.Now()
		rs.Phase = v1alpha1.RunSucceeded
		if ctx.Err() != nil {
			rs.Phase = v1alpha1.RunAborted
		}
		return
	}
	r.fault(ctx, abort, st, rs)
}

// sleep waits d or until ctx is done, and says whether it waited fully.
func (r *run) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := r.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// baseline makes sure a full recovered window of load ran before the first
// fault and that the system met its objectives during it.
func (r *run) baseline(ctx context.Context) bool {
	need := r.obj.Recovered.For + r.settle
	if elapsed := r.opts.Clock.Since(r.start); elapsed < need {
		r.emit(Event{Type: EventBaseline, Message: "measuring the steady state before the first fault"})
		if !r.sleep(ctx, need-elapsed) {
			return false
		}
	}
	to := r.opts.Clock.Now().Add(-r.settle)
	stats, verdicts, ok := slo.SteadyState(r.prober.Samples(), r.start, to, r.obj)
	r.rep.Baseline = &report.Check{Stats: stats, Verdicts: verdicts, Pass: ok}
	msg := fmt.Sprintf("steady state held: %.2f%% success, p99 %s over %d requests", stats.Availability, report.FormatDuration(stats.P99), stats.Requests)
	if !ok {
		msg = fmt.Sprintf("steady state NOT met before any fault: %.2f%% success, p99 %s over %d requests", stats.Availability, report.FormatDuration(stats.P99), stats.Requests)
	}
	r.emit(Event{Type: EventBaseline, Message: msg})
	if !ok && !r.spec.Safety.SkipSteadyStateCheck {
		r.stepError("the system did not meet its objectives before the first fault, so no fault was injected (set safety.skipSteadyStateCheck to drill anyway)")
		return false
	}
	return true
}

// finalCheck judges the steady state after the last fault.
func (r *run) finalCheck(ctx context.Context) {
	r.emit(Event{Type: EventBaseline, Message: "measuring the steady state after the last fault"})
	from := r.opts.Clock.Now()
	if !r.sleep(ctx, r.obj.Recovered.For+r.settle) {
		return
	}
	stats, verdicts, ok := slo.SteadyState(r.prober.Samples(), from, r.opts.Clock.Now().Add(-r.settle), r.obj)
	r.rep.Final = &report.Check{Stats: stats, Verdicts: verdicts, Pass: ok}
}

func (r *run) activeNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id, af := range r.active {
		if !af.reverted {
			out = append(out, id)
		}
	}
	return out
}

// monitor evaluates abort conditions and sends progress events.
func (r *run) monitor(ctx context.Context, abort context.CancelCauseFunc) {
	t := r.opts.Clock.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	a := r.spec.Abort
	var below float64
	hasBelow := a.AvailabilityBelow != ""
	if hasBelow {
		below, _ = v1alpha1.ParsePercent(a.AvailabilityBelow)
	}
	window := v1alpha1.DefaultAbortWindow
	if a.Window != nil {
		window = a.Window.Duration
	}
	lastProgress := r.start
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		now := r.opts.Clock.Now()
		if a.MaxDuration != nil && now.Sub(r.start) > a.MaxDuration.Duration {
			abort(&abortError{reason: "the drill ran longer than abort.maxDuration (" + a.MaxDuration.Duration.String() + ")"})
			return
		}
		settled := now.Add(-r.settle)
		if hasBelow && settled.Sub(r.start) >= min(window, 5*time.Second) {
			live := r.prober.Live(window, settled)
			if live.Requests >= 10 && live.Availability < below {
				abort(&abortError{reason: fmt.Sprintf("availability %.2f%% over the last %s fell below abort.availabilityBelow (%s%%)", live.Availability, window, a.AvailabilityBelow)})
				return
			}
		}
		if now.Sub(lastProgress) >= r.opts.ProgressInterval {
			lastProgress = now
			r.emit(Event{Type: EventProgress, Live: r.prober.Live(5*time.Second, settled), Active: r.activeNames()})
		}
	}
}

func (r *run) sampleCapacity(ctx context.Context) {
	t := r.opts.Clock.NewTicker(r.opts.CapacityInterval)
	defer t.Stop()
	logger := log.FromContext(ctx)
	for {
		started := r.opts.Clock.Now()
		points, err := r.opts.Platform.Capacity(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Warn("sampling capacity", "err", err)
		}
		r.mu.Lock()
		r.keepCapacity(points)
		if err == nil {
			r.sampledFrom = started
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// keepCapacity appends the points that change a workload's desired or
// ready replicas. The caller holds r.mu.
func (r *run) keepCapacity(points []slo.CapacityPoint) {
	if r.lastCapacity == nil {
		r.lastCapacity = map[string]slo.CapacityPoint{}
	}
	for _, pt := range points {
		if last, ok := r.lastCapacity[pt.Workload]; ok && last.Desired == pt.Desired && last.Ready == pt.Ready {
			continue
		}
		r.lastCapacity[pt.Workload] = pt
		r.capacity = append(r.capacity, pt)
	}
}

func (r *run) sampleModels(ctx context.Context) {
	mr, ok := r.opts.Platform.(platform.ModelReporter)
	if !ok {
		return
	}
	logger := log.FromContext(ctx)
	if pub, err := mr.Published(ctx); err != nil {
		logger.Warn("listing published models", "err", err)
	} else {
		r.mu.Lock()
		r.published = pub
		r.mu.Unlock()
	}
	t := r.opts.Clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		obs, err := mr.Models(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Warn("sampling models", "err", err)
		}
		if len(obs) > 0 {
			r.mu.Lock()
			r.models = append(r.models, obs...)
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (r *run) newProber(ctx context.Context) (*probe.Prober, error) {
	l := r.spec.Load
	opts := probe.Options{Endpoint: r.rep.Endpoint, Seed: seedOf(r.runID)}
	if l.Rate != nil {
		opts.Rate = int(*l.Rate)
	}
	if l.Timeout != nil {
		opts.Timeout = l.Timeout.Duration
	}
	needPools := false
	for _, t := range l.Requests {
		w := 1
		if t.Weight != nil {
			w = int(*t.Weight)
		}
		opts.Templates = append(opts.Templates, probe.Template{Name: t.Name, Method: t.Method, Path: t.Path, Weight: w})
		needPools = needPools || strings.Contains(t.Path, "{")
	}
	if l.Pools != nil {
		opts.Pools = probe.Pools{Users: l.Pools.Users, Items: l.Pools.Items, Queries: l.Pools.Queries}
	}
	if needPools && len(opts.Pools.Users)+len(opts.Pools.Items)+len(opts.Pools.Queries) == 0 {
		pools, err := r.fetchPools(ctx)
		if err != nil {
			return nil, err
		}
		opts.Pools = pools
	}
	p, err := probe.New(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring the probe: %w", err)
	}
	return p, nil
}

// fetchPools asks the system under test for placeholder values, retrying
// for a while: a freshly started system may not answer at once.
func (r *run) fetchPools(ctx context.Context) (probe.Pools, error) {
	deadline := r.opts.Clock.Now().Add(30 * time.Second)
	for {
		pools, err := probe.FetchPools(ctx, r.opts.HTTPClient, r.rep.Endpoint, 200)
		if err == nil {
			return pools, nil
		}
		if r.opts.Clock.Now().After(deadline) || !r.sleep(ctx, 500*time.Millisecond) {
			return probe.Pools{}, fmt.Errorf("the plan has no load.pools and the system under test did not provide them (GET %s/v1/sample): %w", r.rep.Endpoint, err)
		}
	}
}

func seedOf(s string) int64 {
	var h int64 = 1469598103934665603
	for _, c := range []byte(s) {
		h = (h ^ int64(c)) * 1099511628211
	}
	return h
}

// capacitySeenSince says whether the platform's capacity was sampled
// after t, so that a judgement at t cannot miss what happened at t. A
// platform that tracks no capacity has nothing to wait for.
func (r *run) capacitySeenSince(t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.capacity) == 0 || !r.sampledFrom.Before(t)
}
