package local

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// The sandbox reports what it observes as evidence events: replacements
// scheduled, replicas ready and the model they serve, front-door switches.
// Each event carries the instant it happened; the report shows it relative
// to the fault's injected instant, so no instant is computed twice.

// modelInterval is how often every ready replica's model is read for the
// RPO: a replica serving a stale model after recovery must be seen then.
const modelInterval = time.Second

// record sends ev to the run's recorder.
func (p *Platform) record(ev evidence.Event) {
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	if rec != nil {
		rec.Record(ev)
	}
}

// currentFault is the fault injected last, "" before the first.
func (p *Platform) currentFault() (id string, outage bool, reverted time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil {
		return "", false, time.Time{}
	}
	return p.current.id, p.current.outage, p.current.reverted
}

// supervisorEvent turns a supervisor event into evidence: the start of a
// replacement replica is replacement capacity for whatever fault is in
// effect. It runs under the supervisor's lock and only records.
func (p *Platform) supervisorEvent(e supervisor.Event) {
	if e.Type != supervisor.EventStarting || !e.Replacement {
		return
	}
	p.record(evidence.Event{Type: evidence.EventReplaced, At: e.At,
		Target:  &evidence.Target{Kind: evidence.KindPod, Name: e.Replica, Region: e.Region},
		Message: fmt.Sprintf("replacement replica %s scheduled on node %s", e.Replica, e.Node)})
}

// replicaReady reports the model a replica serves once it is ready and,
// for a replacement, a note about how it came up.
func (p *Platform) replicaReady(ctx context.Context, r supervisor.Replica) {
	mi, err := p.fetchModel(ctx, r.Addr)
	if err != nil {
		return
	}
	p.record(evidence.Event{Type: evidence.EventModelServed, At: r.ReadyAt, Model: observation(r, mi, r.ReadyAt)})
	fault, outage, reverted := p.currentFault()
	if !r.Replacement || fault == "" {
		return
	}
	during := outage && (reverted.IsZero() || r.Started.Before(reverted))
	var msg string
	switch {
	case during && mi.Source == "cache":
		msg = fmt.Sprintf("replacement replica %s on %s started during the outage from its node-local cache (%s) and is ready", r.Name, r.Node, mi.Version)
	case during && (mi.Source == "fallback" || mi.Degraded):
		msg = fmt.Sprintf("replacement replica %s on %s started during the outage and serves the degraded fallback", r.Name, r.Node)
	default:
		msg = fmt.Sprintf("replacement replica %s on %s is ready, serving %s from its %s", r.Name, r.Node, mi.Version, mi.Source)
	}
	p.record(evidence.Event{Type: evidence.EventNote, At: r.ReadyAt, Fault: fault,
		Target: &evidence.Target{Kind: evidence.KindPod, Name: r.Name, Region: r.Region}, Message: msg})
}

func observation(r supervisor.Replica, mi modelInfo, at time.Time) *evidence.ModelObservation {
	return &evidence.ModelObservation{At: at, Replica: r.Name, Version: mi.Version, CreatedAt: mi.CreatedAt, Fallback: mi.Degraded || mi.Source == "fallback"}
}

// watch reads, every modelInterval until Stop, the model of every ready
// replica and the front door's switches, and reports them.
func (p *Platform) watch(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	p.mu.Lock()
	p.stopWatch = cancel
	p.mu.Unlock()
	go func() {
		t := p.opts.Clock.NewTicker(modelInterval)
		defer t.Stop()
		switches := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
			}
			p.observeModels(ctx)
			switches = p.observeSwitches(ctx, switches)
		}
	}()
}

// observeModels reports the model every ready replica serves now.
func (p *Platform) observeModels(ctx context.Context) {
	sup, err := p.started()
	if err != nil {
		return
	}
	for _, r := range sup.Replicas() {
		if r.Phase != supervisor.PhaseReady {
			continue
		}
		mi, err := p.fetchModel(ctx, r.Addr)
		if err != nil {
			continue
		}
		p.record(evidence.Event{Type: evidence.EventModelServed, At: p.opts.Clock.Now(), Model: observation(r, mi, p.opts.Clock.Now())})
	}
}

// observeSwitches reports the front door's switches after the first seen
// ones, and returns how many it has seen.
func (p *Platform) observeSwitches(ctx context.Context, seen int) int {
	fd := p.FrontDoor()
	if fd == nil {
		return seen
	}
	st, err := fd.State(ctx)
	if err != nil {
		return seen
	}
	fault, _, _ := p.currentFault()
	for _, sw := range st.Switches[min(seen, len(st.Switches)):] {
		to := sw.To
		if to == "" {
			to = "no region (none healthy)"
		}
		p.record(evidence.Event{Type: evidence.EventTrafficSwitched, At: sw.At, Fault: fault,
			Message: fmt.Sprintf("the front door moved traffic from %s to %s (%s)", sw.From, to, sw.Reason)})
	}
	return len(st.Switches)
}
