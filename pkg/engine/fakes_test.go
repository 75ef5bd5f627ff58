package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/action/actiontest"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/probe"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/report/schema"
)

// t0 anchors every fake clock.
var t0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// window is a span of time in which the fake system under test misbehaves.
type window struct {
	from, to time.Time
	// code is the status answered (503), or 0 with latency set for a slow
	// window.
	code    int
	latency time.Duration
}

// fakeSUT is a system under test scripted in time: it answers 200 in 5 ms
// except inside its windows.
type fakeSUT struct {
	mu      sync.Mutex
	windows []window
}

func (s *fakeSUT) down(from time.Time, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windows = append(s.windows, window{from: from, to: from.Add(d), code: 503})
}

func (s *fakeSUT) answer(at time.Time) evidence.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	smp := evidence.Sample{At: at, Latency: 5 * time.Millisecond, Code: 200, Route: "root"}
	for _, w := range s.windows {
		if at.Before(w.from) || !at.Before(w.to) {
			continue
		}
		if w.code != 0 {
			smp.Code, smp.Latency = w.code, 2*time.Millisecond
		} else {
			smp.Latency = w.latency
		}
	}
	return smp
}

// fakeProber sends a request every interval from the moment it is built
// and knows each sample once its response arrived, as of the fake clock.
type fakeProber struct {
	clk      *clocktesting.FakeClock
	sut      *fakeSUT
	start    time.Time
	interval time.Duration
}

func (p *fakeProber) Run(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func (p *fakeProber) AppendSince(dst []evidence.Sample, t time.Time) []evidence.Sample {
	now := p.clk.Now()
	i := 0
	if t.After(p.start) {
		i = int((t.Sub(p.start) + p.interval - 1) / p.interval)
	}
	for ; ; i++ {
		at := p.start.Add(time.Duration(i) * p.interval)
		if at.After(now) {
			break
		}
		s := p.sut.answer(at)
		if at.Add(s.Latency).After(now) {
			continue // still in flight
		}
		dst = append(dst, s)
	}
	return dst
}

// fakePlatform records its calls, reports capacity from a script and
// reports TookEffect when a fault is injected.
type fakePlatform struct {
	clk *clocktesting.FakeClock
	mu  sync.Mutex
	rec evidence.Recorder

	targets      map[string][]evidence.Target // by fault type
	calls        []string
	preflightErr error
	injectErr    map[string]error // by target name
	revertErr    error
	// onInject and onRevert script the world's reaction.
	onInject, onRevert func(f platform.Fault, t evidence.Target, now time.Time)
	// capacity returns the capacity points now; nil means none tracked.
	capacity func(now time.Time) []evidence.CapacityPoint
	clusters []evidence.Cluster
	stopped  bool
}

func newFakePlatform(clk *clocktesting.FakeClock) *fakePlatform {
	return &fakePlatform{clk: clk, targets: map[string][]evidence.Target{
		"podKill":       {{Kind: evidence.KindPod, Name: "pod-a"}, {Kind: evidence.KindPod, Name: "pod-b"}, {Kind: evidence.KindPod, Name: "pod-c"}},
		"nodeDrain":     {{Kind: evidence.KindNode, Name: "node-a"}, {Kind: evidence.KindNode, Name: "node-b"}},
		"regionCutover": {{Kind: evidence.KindRegion, Name: "us-east", Region: "us-east"}},
	}, injectErr: map[string]error{}}
}

func (p *fakePlatform) call(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf(format, args...))
}

func (p *fakePlatform) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func (p *fakePlatform) Name() string { return "fake" }

func (p *fakePlatform) Preflight(context.Context, *v1alpha1.DrillPlanSpec) error {
	return p.preflightErr
}

func (p *fakePlatform) Start(_ context.Context, rec evidence.Recorder) (platform.Info, error) {
	p.rec = rec
	p.call("start")
	return platform.Info{}, nil
}

func (p *fakePlatform) Stop(context.Context) error {
	p.call("stop")
	p.stopped = true
	return nil
}

func (p *fakePlatform) Targets(_ context.Context, f platform.Fault) ([]evidence.Target, error) {
	ts, ok := p.targets[FaultType(f.Spec)]
	if !ok {
		return nil, platform.ErrUnsupported
	}
	return ts, nil
}

func (p *fakePlatform) Inject(_ context.Context, f platform.Fault, t evidence.Target) error {
	now := p.clk.Now()
	p.call("inject %s %s", f.ID, t.Name)
	if err := p.injectErr[t.Name]; err != nil {
		return err
	}
	p.rec.Record(evidence.Event{Type: evidence.EventTookEffect, At: now, Fault: f.ID, Target: &t})
	if p.onInject != nil {
		p.onInject(f, t, now)
	}
	return nil
}

func (p *fakePlatform) Revert(_ context.Context, f platform.Fault, t evidence.Target) error {
	p.call("revert %s %s", f.ID, t.Name)
	if p.onRevert != nil {
		p.onRevert(f, t, p.clk.Now())
	}
	return p.revertErr
}

func (p *fakePlatform) Recover(_ context.Context, f platform.Fault, ts []evidence.Target) error {
	p.call("recover %s %s", f.ID, evidence.TargetNames(ts))
	return nil
}

func (p *fakePlatform) Clusters() []evidence.Cluster { return p.clusters }

func (p *fakePlatform) Capacity(context.Context) ([]evidence.CapacityPoint, error) {
	if p.capacity == nil {
		return nil, nil
	}
	return p.capacity(p.clk.Now()), nil
}

// fakeJournal records what the engine journals.
type fakeJournal struct {
	mu       sync.Mutex
	rec      journal.Record
	states   map[string][]journal.State
	steps    []string
	outcome  string
	finished bool
	failSet  error
	actions  []action.InFlight
}

func (j *fakeJournal) Begin(id string, _ v1alpha1.Fault, targets []evidence.Target) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.states[id] = append(j.states[id], journal.Injecting)
	j.rec.Faults = append(j.rec.Faults, journal.Fault{ID: id, Targets: targets, State: journal.Injecting})
	return nil
}

func (j *fakeJournal) Set(id string, s journal.State, _ string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.states[id] = append(j.states[id], s)
	return j.failSet
}

func (j *fakeJournal) StepDone(name string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, name)
	return nil
}

func (j *fakeJournal) Tracker(string) action.Tracker { return j }

func (j *fakeJournal) Starting(a action.InFlight) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.actions = append(j.actions, a)
	return nil
}

func (j *fakeJournal) Started(string, int) error { return nil }

func (j *fakeJournal) Finished(string) error { return nil }

func (j *fakeJournal) Finish(outcome string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.outcome, j.finished = outcome, true
	return nil
}

// harness runs plans on a fake clock, deterministically: the loop is
// driven tick by tick and injects and reverts run inline.
type harness struct {
	t        *testing.T
	clk      *clocktesting.FakeClock
	sut      *fakeSUT
	pf       *fakePlatform
	journals map[string]*fakeJournal
	actions  *actiontest.Runner
	e        *Engine
	events   []Event
	rate     time.Duration
	// onTick, when set, sees the run after every tick.
	onTick func(r *Run)
	// injectedAt and revertedAt are scratch instants scripts may keep.
	injectedAt, revertedAt time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	h := &harness{t: t, clk: clk, sut: &fakeSUT{}, pf: newFakePlatform(clk), journals: map[string]*fakeJournal{}, rate: 20 * time.Millisecond}
	h.actions = &actiontest.Runner{Clock: clk}
	e, err := New(Options{
		JournalDir: t.TempDir(), Clock: clk, Actions: h.actions, Tick: 100 * time.Millisecond,
		NewProber: func(probe.Options) (Prober, error) {
			return &fakeProber{clk: clk, sut: h.sut, start: clk.Now(), interval: h.rate}, nil
		},
		NewJournal: func(rec journal.Record) (Journal, error) {
			j := &fakeJournal{rec: rec, states: map[string][]journal.State{}}
			h.journals[rec.RunID] = j
			return j, nil
		},
	})
	require.NoError(t, err)
	h.e = e
	return h
}

// plan loads a plan for the fake platform: the given spec YAML (indented
// two spaces under spec:, steps included).
func (h *harness) plan(spec string) *plan.Plan {
	h.t.Helper()
	return loadTestPlan(h.t, spec)
}

func loadTestPlan(tb testing.TB, spec string) *plan.Plan {
	tb.Helper()
	text := `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: unit}
spec:
  target: {platform: local}
  load: {rate: 50, timeout: 300ms, requests: [{name: root, path: /}]}
` + spec
	plans, problems := (&plan.Loader{}).LoadBytes("unit.yaml", []byte(text))
	require.Empty(tb, problems)
	require.Len(tb, plans, 1)
	return plans[0]
}

// run runs p to the end on the fake clock; interruptAt, when not zero,
// cancels the run then.
func (h *harness) run(p *plan.Plan, interruptAt time.Duration) *report.Report {
	h.t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r, runCtx, err := h.e.prepare(ctx, p, RunOptions{Platform: h.pf, RunID: "r1", Observer: func(ev Event) { h.events = append(h.events, ev) }})
	require.NoError(h.t, err)
	r.spawn = func(f func()) { f() }
	teardown := context.WithoutCancel(runCtx)
	if r.setup(runCtx) {
		for i := 0; !r.st.Done; i++ {
			require.Less(h.t, i, 100_000, "the run never finished")
			if interruptAt > 0 && !h.clk.Now().Before(t0.Add(interruptAt)) && runCtx.Err() == nil {
				cancel(errors.New("a signal"))
			}
			if runCtx.Err() != nil {
				r.interrupt(runCtx)
			}
			r.tick(runCtx, teardown)
			if h.onTick != nil {
				h.onTick(r)
			}
			for len(r.results) > 0 {
				r.applyResult(runCtx, <-r.results)
			}
			h.clk.Step(h.e.opts.Tick)
		}
	}
	r.finish()
	r.stopPlatform(teardown)
	if r.lock != nil {
		r.lock.Release()
	}
	// Every report the engine builds matches the published schema.
	js, err := report.JSON(r.final)
	require.NoError(h.t, err)
	require.NoError(h.t, schema.Validate(js))
	return r.final
}

// fault returns the fault result of step name.
func fault(t *testing.T, rep *report.Report, name string) *v1alpha1.FaultResult {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Name == name {
			require.NotNil(t, s.Fault, "step %s has no fault result", name)
			return s.Fault
		}
	}
	t.Fatalf("no step %s", name)
	return nil
}
