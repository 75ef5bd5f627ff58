package faultlog

import (
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// Record sends an event to the run's recorder, stamped now when it has
// no instant.
func (l *Log) Record(ev evidence.Event) {
	if ev.At.IsZero() {
		ev.At = l.clock.Now()
	}
	l.mu.Lock()
	rec := l.rec
	l.mu.Unlock()
	rec.Record(ev)
}

// TookEffect reports, once per fault, that a disruptive call of fault id
// succeeded now: the fault's injected instant.
func (l *Log) TookEffect(id string, t *evidence.Target) {
	st, _ := l.State(id)
	l.mu.Lock()
	first := !st.effect
	st.effect = true
	l.mu.Unlock()
	if first {
		l.Record(evidence.Event{Type: evidence.EventTookEffect, Fault: id, Target: t})
	}
}

// Note reports an observation about fault id, once per message.
func (l *Log) Note(id string, t *evidence.Target, msg string) {
	st, _ := l.State(id)
	l.mu.Lock()
	seen := st.notes[msg]
	st.notes[msg] = true
	l.mu.Unlock()
	if !seen {
		l.Record(evidence.Event{Type: evidence.EventNote, Fault: id, Target: t, Message: msg})
	}
}

// TrafficSwitched reports a cutover's traffic switch (or fail-back),
// described by msg.
func (l *Log) TrafficSwitched(id string, t *evidence.Target, msg string) {
	l.Record(evidence.Event{Type: evidence.EventTrafficSwitched, Fault: id, Target: t, Message: msg})
}

// Replaced reports a fault's replacement capacity, first seen at.
func (l *Log) Replaced(fault string, at time.Time) {
	l.Record(evidence.Event{Type: evidence.EventReplaced, At: at, Fault: fault})
}

// Observed reports a cluster observation as a note of every fault under
// way: every fault this process injected, as the report has always shown
// a pod's wait for a GPU with every fault it overlapped.
func (l *Log) Observed(msg string) {
	l.mu.Lock()
	ids := make([]string, 0, len(l.faults))
	for id := range l.faults {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	for _, id := range ids {
		l.Note(id, nil, msg)
	}
}

// Reporter is what the fault packages report through for one fault and
// target: it implements their Observer interfaces.
type Reporter struct {
	l      *Log
	fault  string
	target *evidence.Target
}

// Reporter reports for fault id on target t.
func (l *Log) Reporter(id string, t evidence.Target) Reporter {
	return Reporter{l: l, fault: id, target: &t}
}

// Target is the target the reporter reports on.
func (r Reporter) Target() *evidence.Target { return r.target }

// TookEffect reports the fault's first disruptive call.
func (r Reporter) TookEffect() { r.l.TookEffect(r.fault, r.target) }

// Note reports an observation about the fault.
func (r Reporter) Note(msg string) { r.l.Note(r.fault, r.target, msg) }
