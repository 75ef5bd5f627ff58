package drillrun

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// RunID is the engine's run id for a DrillRun: <namespace>.<name>. A
// namespace has no dot, so it names the object back (KeyOf), and two
// runs of the same name in two namespaces never share marks or a report.
func RunID(key types.NamespacedName) string { return key.Namespace + "." + key.Name }

// KeyOf is the DrillRun a run id of RunID names.
func KeyOf(runID string) (types.NamespacedName, bool) {
	ns, name, ok := strings.Cut(runID, ".")
	if !ok || ns == "" || name == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// beginTimeout bounds how long Begin retries writing a fault into the
// status before the fault fails without being touched.
var beginTimeout = 30 * time.Second

// JournalFactory returns the engine's journal factory for drill serve.
// Each run's journal records its faults in the DrillRun's status.journal
// as well as in file (the local journal, which tracks runbook commands):
// Begin writes the status before the fault is touched and fails the
// inject when it cannot; later states are written in the background, in
// order, the newest state last.
func JournalFactory(c client.Client, file engine.JournalFactory, clk clock.Clock) engine.JournalFactory {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return func(rec journal.Record) (engine.Journal, error) {
		key, ok := KeyOf(rec.RunID)
		if !ok {
			return nil, fmt.Errorf("run id %q does not name a DrillRun (<namespace>.<name>)", rec.RunID)
		}
		f, err := file(rec)
		if err != nil {
			return nil, err
		}
		j := &statusJournal{file: f, c: c, key: key, clock: clk, dirty: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
		go j.work()
		return j, nil
	}
}

// statusJournal is an engine.Journal over a DrillRun's status.journal.
type statusJournal struct {
	file  engine.Journal
	c     client.Client
	key   types.NamespacedName
	clock clock.Clock

	mu      sync.Mutex
	entries []v1alpha1.JournalEntry
	// settles are the faults with nothing to revert (a pod kill): over
	// when the run is.
	settles map[string]bool

	// sendMu serialises status writes; each sends the entries as they are
	// when it starts, so the last write holds the newest state.
	sendMu  sync.Mutex
	dirty   chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

var _ engine.Journal = (*statusJournal)(nil)

// Begin implements engine.Journal: the status knows about the fault
// before anything is touched.
func (j *statusJournal) Begin(id string, spec v1alpha1.Fault, targets []evidence.Target) error {
	j.mu.Lock()
	prev, had := j.entry(id)
	j.set(v1alpha1.JournalEntry{Step: id, State: v1alpha1.FaultInjecting, Targets: apiTargets(targets)})
	if !platform.Reverts(&spec) {
		if j.settles == nil {
			j.settles = map[string]bool{}
		}
		j.settles[id] = true
	}
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), beginTimeout)
	defer cancel()
	if err := j.flushUntil(ctx); err != nil {
		// Nothing is touched: the record must not say otherwise.
		j.mu.Lock()
		if had {
			j.set(prev)
		} else {
			j.remove(id)
		}
		j.mu.Unlock()
		return fmt.Errorf("recording fault %s in the status of run %s before touching anything: %w", id, j.key, err)
	}
	return j.file.Begin(id, spec, targets)
}

// Set implements engine.Journal.
func (j *statusJournal) Set(id string, s journal.State, errMsg string) error {
	j.mu.Lock()
	if e, ok := j.entry(id); ok {
		e.State, e.Error = v1alpha1.FaultState(s), errMsg
		j.set(e)
	}
	j.mu.Unlock()
	j.poke()
	return j.file.Set(id, s, errMsg)
}

// StepDone implements engine.Journal.
func (j *statusJournal) StepDone(name string) error { return j.file.StepDone(name) }

// Tracker implements engine.Journal: runbook commands run on this
// machine, so the local journal tracks them.
func (j *statusJournal) Tracker(id string) action.Tracker { return j.file.Tracker(id) }

// Finish implements engine.Journal: the last states are written before
// the run's final status. A fault with nothing to revert (a pod kill,
// revert: never) is over with the run and ends Reverted.
func (j *statusJournal) Finish(outcome string) error {
	j.once.Do(func() { close(j.done) })
	<-j.stopped
	j.mu.Lock()
	for i := range j.entries {
		if e := &j.entries[i]; j.settles[e.Step] && e.State == v1alpha1.FaultActive {
			e.State = v1alpha1.FaultReverted
		}
	}
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), beginTimeout)
	defer cancel()
	if err := j.flushUntil(ctx); err != nil {
		log.FromContext(ctx).Warn("writing the final journal into the run's status", "run", j.key.String(), "err", err)
	}
	return j.file.Finish(outcome)
}

func (j *statusJournal) poke() {
	select {
	case j.dirty <- struct{}{}:
	default:
	}
}

// work writes the journal in the background until Finish.
func (j *statusJournal) work() {
	defer close(j.stopped)
	for {
		select {
		case <-j.done:
			return
		case <-j.dirty:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := j.flush(ctx); err != nil {
				log.FromContext(ctx).Warn("writing the journal into the run's status; retrying", "run", j.key.String(), "err", err)
				select {
				case <-j.clock.After(time.Second):
					j.poke()
				case <-j.done:
				}
			}
			cancel()
		}
	}
}

// flushUntil writes the journal, retrying until ctx ends.
func (j *statusJournal) flushUntil(ctx context.Context) error {
	for {
		err := j.flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-j.clock.After(500 * time.Millisecond):
		}
	}
}

// flush writes the entries as they are now.
func (j *statusJournal) flush(ctx context.Context) error {
	j.sendMu.Lock()
	defer j.sendMu.Unlock()
	j.mu.Lock()
	raw, err := json.Marshal(map[string]any{"status": map[string]any{"journal": j.entries}})
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encoding the journal: %w", err)
	}
	run := &v1alpha1.DrillRun{}
	run.Namespace, run.Name = j.key.Namespace, j.key.Name
	if err := j.c.Status().Patch(ctx, run, client.RawPatch(types.MergePatchType, raw)); err != nil {
		return fmt.Errorf("writing the journal of run %s: %w", j.key, err)
	}
	return nil
}

// entry, set and remove work on j.entries; the caller holds j.mu.
func (j *statusJournal) entry(id string) (v1alpha1.JournalEntry, bool) {
	for _, e := range j.entries {
		if e.Step == id {
			return e, true
		}
	}
	return v1alpha1.JournalEntry{}, false
}

func (j *statusJournal) set(e v1alpha1.JournalEntry) {
	for i := range j.entries {
		if j.entries[i].Step == e.Step {
			j.entries[i] = e
			return
		}
	}
	j.entries = append(j.entries, e)
}

func (j *statusJournal) remove(id string) {
	for i := range j.entries {
		if j.entries[i].Step == id {
			j.entries = append(j.entries[:i], j.entries[i+1:]...)
			return
		}
	}
}

func apiTargets(ts []evidence.Target) []v1alpha1.FaultTarget {
	out := make([]v1alpha1.FaultTarget, len(ts))
	for i, t := range ts {
		out[i] = v1alpha1.FaultTarget{Kind: string(t.Kind), Name: t.Name, Region: t.Region}
	}
	return out
}

func evidenceTargets(ts []v1alpha1.FaultTarget) []evidence.Target {
	out := make([]evidence.Target, len(ts))
	for i, t := range ts {
		out[i] = evidence.Target{Kind: evidence.TargetKind(t.Kind), Name: t.Name, Region: t.Region}
	}
	return out
}
