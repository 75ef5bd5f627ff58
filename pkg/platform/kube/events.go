package kube

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
)

// faultState is what this process remembers about one fault of the run.
// Everything in it can be rebuilt from the cluster's marks, so a new
// process (a resumed run, drill cleanup) acts correctly without it.
type faultState struct {
	// started is when the fault's first Inject began.
	started time.Time
	// effect: TookEffect was reported.
	effect bool
	// reverting: the fault's first Revert began (its fail-back is
	// watched for a replacement).
	reverting bool
	// notes already reported, so a repeated inject does not repeat them.
	notes map[string]bool
	// killed are the pods a pod kill (or restartReplicas) deleted, by
	// namespace/name.
	killed map[string]pods.Killed
	// restarts: restartReplicas ran.
	restarts bool
	// switched: a cutover's traffic switch ran and did not fail back.
	switched bool
	// region is the cutover's region as this process took it down.
	region region.State
	// lost is the region a cutover took down, from its Inject until its
	// Revert began: its workloads desire nothing during the failover.
	lost string
}

// state returns the memory of fault id, creating it; created says it was
// just created.
func (p *Platform) state(id string) (st *faultState, created bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.faults[id]
	if !ok {
		st = &faultState{started: p.opts.Clock.Now(), notes: map[string]bool{}, killed: map[string]pods.Killed{}}
		p.faults[id] = st
	}
	return st, !ok
}

// begin is the start of an Inject of f. The first one makes the
// informers watch for the fault's replacement capacity from now (one
// EventReplaced) and reports the cluster observations under way (pods
// waiting for a GPU, Services without endpoints) as the fault's notes.
func (p *Platform) begin(ctx context.Context, f platform.Fault) *faultState {
	st, created := p.state(f.ID)
	if created {
		p.expectReplacement(ctx, f, st.started)
		p.mu.Lock()
		w := p.watch
		p.mu.Unlock()
		if w != nil {
			for _, msg := range w.Open() {
				p.note(f.ID, nil, msg)
			}
		}
	}
	return st
}

// beginRevert is the start of a Revert of f. The first one watches for the
// fail-back's replacement capacity from now (one more EventReplaced).
func (p *Platform) beginRevert(ctx context.Context, f platform.Fault) *faultState {
	st, _ := p.state(f.ID)
	now := p.opts.Clock.Now()
	p.mu.Lock()
	first := !st.reverting
	st.reverting = true
	st.lost = "" // the region comes back: its shortfall is the fail-back's
	p.mu.Unlock()
	if first {
		p.expectReplacement(ctx, f, now)
	}
	return st
}

// expectReplacement asks the informers for the first pod after since that
// replaces capacity for f: a pod of a watched workload or, for a pod kill,
// one its selector matches.
func (p *Platform) expectReplacement(ctx context.Context, f platform.Fault, since time.Time) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w == nil {
		return
	}
	var extra labels.Selector
	ns := p.scope.namespace
	if pk := f.Spec.PodKill; pk != nil {
		if s, err := objects.SelectorOf(pk.Selector); err == nil && pk.Selector != nil {
			extra = s
		}
		if pk.Namespace != "" {
			ns = pk.Namespace
		}
	}
	w.Expect(ctx, f.ID, since, ns, extra)
}

// record sends an event to the run's recorder.
func (p *Platform) record(ev evidence.Event) {
	if ev.At.IsZero() {
		ev.At = p.opts.Clock.Now()
	}
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	rec.Record(ev)
}

// tookEffect reports, once per fault, that a disruptive call of fault id
// succeeded now: the fault's injected instant.
func (p *Platform) tookEffect(id string, t *evidence.Target) {
	st, _ := p.state(id)
	p.mu.Lock()
	first := !st.effect
	st.effect = true
	p.mu.Unlock()
	if first {
		p.record(evidence.Event{Type: evidence.EventTookEffect, Fault: id, Target: t})
	}
}

// note reports an observation about fault id, once per message.
func (p *Platform) note(id string, t *evidence.Target, msg string) {
	st, _ := p.state(id)
	p.mu.Lock()
	seen := st.notes[msg]
	st.notes[msg] = true
	p.mu.Unlock()
	if !seen {
		p.record(evidence.Event{Type: evidence.EventNote, Fault: id, Target: t, Message: msg})
	}
}

// trafficSwitched reports a cutover's traffic switch (or fail-back).
func (p *Platform) trafficSwitched(id string, t *evidence.Target, res traffic.Result) {
	p.record(evidence.Event{Type: evidence.EventTrafficSwitched, Fault: id, Target: t, Message: res.Message()})
}

// reporter is what the packages report through for one fault and target:
// it implements their Observer interfaces.
type reporter struct {
	p      *Platform
	fault  string
	target *evidence.Target
}

func (p *Platform) reporter(f platform.Fault, t evidence.Target) reporter {
	return reporter{p: p, fault: f.ID, target: &t}
}

// TookEffect reports the fault's first disruptive call.
func (r reporter) TookEffect() { r.p.tookEffect(r.fault, r.target) }

// Note reports an observation about the fault.
func (r reporter) Note(msg string) { r.p.note(r.fault, r.target, msg) }

// sink receives what the informers observe.
type sink struct{ p *Platform }

// Replaced reports a fault's replacement capacity.
func (s sink) Replaced(fault string, at time.Time) {
	s.p.record(evidence.Event{Type: evidence.EventReplaced, At: at, Fault: fault})
}

// Observed reports a cluster observation as a note of every fault under
// way: every fault this process injected, as the report has always shown
// a pod's wait for a GPU with every fault it overlapped.
func (s sink) Observed(msg string) {
	s.p.mu.Lock()
	ids := make([]string, 0, len(s.p.faults))
	for id := range s.p.faults {
		ids = append(ids, id)
	}
	s.p.mu.Unlock()
	for _, id := range ids {
		s.p.note(id, nil, msg)
	}
}

// markOf is the bookkeeping of fault f: its run and step, and where the
// run's heartbeat is on this cluster.
func (p *Platform) markOf(f platform.Fault) marks.Mark {
	return marks.Mark{RunID: f.RunID, Fault: f.ID, Heartbeat: p.hb.Key(f.RunID).String()}
}
