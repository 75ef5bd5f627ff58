package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/evidence"
)

// State is where a fault is in its life.
type State string

const (
	// Injecting is written before the first target is touched.
	Injecting State = "Injecting"
	// Active means every target was injected.
	Active State = "Active"
	// Reverting is written before the revert starts.
	Reverting State = "Reverting"
	// Reverted means the fault is gone.
	Reverted State = "Reverted"
)

// Unfinished says whether a fault in state s may still be in effect.
func (s State) Unfinished() bool { return s == Injecting || s == Active || s == Reverting }

// Fault is the journal record of one fault.
type Fault struct {
	// ID is the fault's step name.
	ID string `json:"id"`
	// Spec is the fault as planned.
	Spec v1alpha1.Fault `json:"spec"`
	// Targets the fault acts on.
	Targets []evidence.Target `json:"targets"`
	// State of the fault.
	State State `json:"state"`
	// Updated is when State last changed.
	Updated time.Time `json:"updated"`
	// Error is the last revert error, kept for cleanup to report.
	Error string `json:"error,omitempty"`
	// Actions are the runbook actions of the fault (its exec actions, a
	// cutover's switch command) that started and have not finished: cleanup
	// stops them before it reverts anything.
	Actions []action.InFlight `json:"actions,omitempty"`
}

// Owner identifies the process that runs a drill.
type Owner struct {
	PID int `json:"pid"`
	// StartTicks is the process start time in clock ticks since boot
	// (/proc/PID/stat field 22); 0 when unknown.
	StartTicks uint64 `json:"startTicks,omitempty"`
	Host       string `json:"host,omitempty"`
}

// Record is the journal file of one run.
type Record struct {
	// RunID names the run.
	RunID string `json:"runID"`
	// Plan is the plan's name; PlanHash its hash.
	Plan     string `json:"plan"`
	PlanHash string `json:"planHash"`
	// Spec is the defaulted plan, so cleanup can rebuild the platform.
	Spec v1alpha1.DrillPlanSpec `json:"spec"`
	// Platform is the platform's name.
	Platform string `json:"platform"`
	// Clusters are the clusters the run's faults touch (context, API server
	// and CA fingerprint): cleanup reverts only what belongs to a cluster it
	// is pointed at.
	Clusters []evidence.Cluster `json:"clusters,omitempty"`
	// Owner is the process running the drill.
	Owner Owner `json:"owner"`
	// Started and Finished bound the run; Finished is nil while it runs
	// or when it crashed.
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Faults in the order they were begun.
	Faults []Fault `json:"faults"`
	// Completed lists the steps that finished, in order.
	Completed []string `json:"completed,omitempty"`
	// Outcome is the run's final phase; empty when the run died before
	// it could record one.
	Outcome string `json:"outcome,omitempty"`
}

// Resumable says whether a run can be resumed: it crashed or was aborted
// before finishing its steps.
func (r *Record) Resumable() bool {
	return r.Outcome == "" || r.Outcome == "Aborted" || r.Outcome == "Error"
}

// Unfinished lists the faults of r that may still be in effect.
func (r *Record) Unfinished() []*Fault {
	var out []*Fault
	for i := range r.Faults {
		if r.Faults[i].State.Unfinished() {
			out = append(out, &r.Faults[i])
		}
	}
	return out
}

// Journal is the open journal of one run. It is safe for concurrent use.
type Journal struct {
	mu    sync.Mutex
	path  string
	rec   Record
	clock clock.PassiveClock
}

// Create starts the journal of a run in dir.
func Create(dir string, rec Record, clk clock.PassiveClock) (*Journal, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if rec.RunID == "" || strings.ContainsAny(rec.RunID, `/\`) {
		return nil, fmt.Errorf("invalid run id %q", rec.RunID)
	}
	if rec.Owner.PID == 0 {
		rec.Owner = Self()
	}
	j := &Journal{path: filepath.Join(dir, rec.RunID+".json"), rec: rec, clock: clk}
	if _, err := os.Stat(j.path); err == nil {
		return nil, fmt.Errorf("journal %s already exists", j.path)
	}
	return j, j.flush()
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

func (j *Journal) flush() error {
	data, err := json.MarshalIndent(j.rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding journal: %w", err)
	}
	if err := atomicfile.WriteFile(j.path, data, 0o600); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

// Begin records, durably, that fault id is about to be injected on
// targets. Call it before touching anything.
func (j *Journal) Begin(id string, spec v1alpha1.Fault, targets []evidence.Target) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, f := range j.rec.Faults {
		if f.ID == id {
			return fmt.Errorf("fault %s already in the journal", id)
		}
	}
	j.rec.Faults = append(j.rec.Faults, Fault{ID: id, Spec: spec, Targets: targets, State: Injecting, Updated: j.clock.Now()})
	return j.flush()
}

// Set records a fault's new state, durably.
func (j *Journal) Set(id string, s State, errMsg string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.rec.Faults {
		if j.rec.Faults[i].ID == id {
			j.rec.Faults[i].State = s
			j.rec.Faults[i].Updated = j.clock.Now()
			j.rec.Faults[i].Error = errMsg
			return j.flush()
		}
	}
	return fmt.Errorf("fault %s is not in the journal", id)
}

// Tracker records the runbook actions of fault id in the journal.
func (j *Journal) Tracker(id string) action.Tracker { return faultTracker{j: j, id: id} }

type faultTracker struct {
	j  *Journal
	id string
}

// Starting implements action.Tracker: durably, before the action starts.
func (t faultTracker) Starting(a action.InFlight) error {
	return t.j.update(t.id, func(f *Fault) { f.Actions = append(f.Actions, a) })
}

// Started implements action.Tracker.
func (t faultTracker) Started(token string, pgid int) error {
	return t.j.update(t.id, func(f *Fault) {
		for i := range f.Actions {
			if f.Actions[i].Token == token {
				f.Actions[i].PGID = pgid
			}
		}
	})
}

// Finished implements action.Tracker: a finished action is forgotten.
func (t faultTracker) Finished(token string) error {
	return t.j.update(t.id, func(f *Fault) {
		f.Actions = slices.DeleteFunc(f.Actions, func(a action.InFlight) bool { return a.Token == token })
	})
}

// update changes fault id and writes the journal, durably. A fault that is
// not begun yet (a platform's action before the engine journaled it) is an
// error.
func (j *Journal) update(id string, change func(*Fault)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range j.rec.Faults {
		if j.rec.Faults[i].ID == id {
			change(&j.rec.Faults[i])
			return j.flush()
		}
	}
	return fmt.Errorf("fault %s is not in the journal", id)
}

// StepDone records, durably, that a step finished.
func (j *Journal) StepDone(name string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rec.Completed = append(j.rec.Completed, name)
	return j.flush()
}

// Finish marks the run finished with its outcome (empty when the outcome
// is unknown, as in cleanup after a crash).
func (j *Journal) Finish(outcome string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now()
	j.rec.Finished = &now
	if outcome != "" {
		j.rec.Outcome = outcome
	}
	return j.flush()
}

// Record returns a copy of the journal's record.
func (j *Journal) Record() Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec := j.rec
	rec.Faults = append([]Fault(nil), j.rec.Faults...)
	return rec
}

// InFlight lists the runbook actions of r that started and never finished.
func (r *Record) InFlight() []action.InFlight {
	var out []action.InFlight
	for _, f := range r.Faults {
		out = append(out, f.Actions...)
	}
	return out
}

// Load reads every run record in dir, oldest first.
func Load(dir string) ([]*Record, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading journal directory: %w", err)
	}
	var out []*Record
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		rec := &Record{}
		if err := json.Unmarshal(data, rec); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Started.Before(out[b].Started) })
	return out, nil
}

// Reopen opens the journal of an existing record for cleanup.
func Reopen(dir string, rec *Record, clk clock.PassiveClock) *Journal {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Journal{path: filepath.Join(dir, rec.RunID+".json"), rec: *rec, clock: clk}
}

// Self identifies the calling process.
func Self() Owner {
	host, _ := os.Hostname()
	return Owner{PID: os.Getpid(), StartTicks: startTicks(os.Getpid()), Host: host}
}

// Alive reports whether the owner process still runs (same PID, same start
// time, same host).
func (o Owner) Alive() bool {
	if host, _ := os.Hostname(); o.Host != "" && host != o.Host {
		return true // another machine's run: not ours to judge
	}
	ticks := startTicks(o.PID)
	if ticks == 0 {
		return false
	}
	return o.StartTicks == 0 || ticks == o.StartTicks
}

// startTicks reads a process's start time from /proc, 0 when it is gone.
func startTicks(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields after it are
	// counted from the closing parenthesis.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0
	}
	return v
}
