package faultlog

import (
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
)

// Log is what this process remembers about the faults of the run, by
// fault (step) id, and where their events go.
type Log struct {
	clock clock.PassiveClock

	// mu guards rec, faults and every Fault's fields.
	mu     sync.Mutex
	rec    evidence.Recorder
	faults map[string]*Fault
}

// New returns an empty log whose events go nowhere until SetRecorder;
// clk stamps them.
func New(clk clock.PassiveClock) *Log {
	return &Log{clock: clk, rec: evidence.Discard, faults: map[string]*Fault{}}
}

// SetRecorder sends the events from now on to rec; nil sends them
// nowhere.
func (l *Log) SetRecorder(rec evidence.Recorder) {
	if rec == nil {
		rec = evidence.Discard
	}
	l.mu.Lock()
	l.rec = rec
	l.mu.Unlock()
}

// Fault is what this process remembers about one fault of the run.
type Fault struct {
	l *Log
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

// State returns the memory of fault id, creating it; created says it was
// just created.
func (l *Log) State(id string) (st *Fault, created bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.faults[id]
	if !ok {
		st = &Fault{l: l, started: l.clock.Now(), notes: map[string]bool{}, killed: map[string]pods.Killed{}}
		l.faults[id] = st
	}
	return st, !ok
}

// Lost are the regions cutovers of this process took down and have not
// begun to restore.
func (l *Log) Lost() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost []string
	for _, st := range l.faults {
		if st.lost != "" {
			lost = append(lost, st.lost)
		}
	}
	return lost
}

// Started is when the fault's first Inject began.
func (f *Fault) Started() time.Time { return f.started }

// BeginRevert marks the start of a Revert: the region the fault took down
// comes back, so its shortfall is the fail-back's. first says it is the
// fault's first Revert.
func (f *Fault) BeginRevert() (first bool) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	first = !f.reverting
	f.reverting = true
	f.lost = ""
	return first
}

// Killed is what a pod kill of this fault deleted under name, if it did.
func (f *Fault) Killed(name string) (pods.Killed, bool) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	k, ok := f.killed[name]
	return k, ok
}

// SetKilled remembers that the fault deleted the pod name as k.
func (f *Fault) SetKilled(name string, k pods.Killed) {
	f.l.mu.Lock()
	f.killed[name] = k
	f.l.mu.Unlock()
}

// Restarted says restartReplicas ran.
func (f *Fault) Restarted() bool {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	return f.restarts
}

// SetRestarted remembers that restartReplicas ran.
func (f *Fault) SetRestarted() {
	f.l.mu.Lock()
	f.restarts = true
	f.l.mu.Unlock()
}

// Switched says the cutover's traffic switch ran and did not fail back.
func (f *Fault) Switched() bool {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	return f.switched
}

// SetSwitched remembers whether traffic is switched away.
func (f *Fault) SetSwitched(switched bool) {
	f.l.mu.Lock()
	f.switched = switched
	f.l.mu.Unlock()
}

// SetLost remembers that the cutover took region down.
func (f *Fault) SetLost(region string) {
	f.l.mu.Lock()
	f.lost = region
	f.l.mu.Unlock()
}

// Region is the cutover's region as this process took it down (it guards
// itself).
func (f *Fault) Region() *region.State { return &f.region }
