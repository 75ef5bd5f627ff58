package plansdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/report"
)

// stateSchema identifies the state file's format.
const stateSchema = "firedrill.dev/serve-state/v1"

// Files under the state directory.
const (
	stateFile = "state.json"
	lockFile  = "lock"
	liveDir   = "live"
)

// persisted is the state file: what a restart needs so that it neither
// starts a fire twice nor forgets a missed one, nor loses a run.
type persisted struct {
	Schema string `json:"schema"`
	// Plans are the schedule status of each plan, by name.
	Plans map[string]v1alpha1.ScheduleStatus `json:"plans,omitempty"`
	// Active are the runs created and not yet in the history.
	Active []activeRecord `json:"active,omitempty"`
}

// activeRecord is what the state file keeps about a run in progress.
type activeRecord struct {
	// ID is the run's id.
	ID string `json:"id"`
	// Plan is the version of the plan it runs.
	Plan report.Plan `json:"plan"`
	// Trigger is what started it.
	Trigger v1alpha1.Trigger `json:"trigger"`
	// Scheduled is the fire it was created for; nil when not scheduled.
	Scheduled *time.Time `json:"scheduled,omitempty"`
	// Created is when the runner created it.
	Created time.Time `json:"created"`
}

// stateDir reads and writes the state directory.
type stateDir struct {
	dir string
}

func (s stateDir) path(name string) string { return filepath.Join(s.dir, name) }

// lock takes the state directory's lock, held by a live process only:
// a second runner on the same directory is refused.
func (s stateDir) lock() (*os.File, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	f, err := os.OpenFile(s.path(lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another drill serve runs on the state directory %s; stop it first or give --state-dir", s.dir)
		}
		return nil, fmt.Errorf("locking the state directory: %w", err)
	}
	return f, nil
}

// load reads the state file; a missing one is an empty state.
func (s stateDir) load() (persisted, error) {
	st := persisted{Schema: stateSchema, Plans: map[string]v1alpha1.ScheduleStatus{}}
	data, err := os.ReadFile(s.path(stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the serve state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("the serve state %s is damaged (%w); move it away to start afresh: every plan's schedule starts again and the runs it lists are forgotten", s.path(stateFile), err)
	}
	if st.Schema != stateSchema {
		return st, fmt.Errorf("the serve state %s has schema %q, not %q", s.path(stateFile), st.Schema, stateSchema)
	}
	if st.Plans == nil {
		st.Plans = map[string]v1alpha1.ScheduleStatus{}
	}
	return st, nil
}

// save writes the state file atomically.
func (s stateDir) save(st persisted) error {
	st.Schema = stateSchema
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the serve state: %w", err)
	}
	if err := atomicfile.WriteFile(s.path(stateFile), data, 0o600); err != nil {
		return fmt.Errorf("writing the serve state: %w", err)
	}
	return nil
}

// snapshot is a run's report as of a moment, kept while it runs.
type snapshot struct {
	At     time.Time      `json:"at"`
	Report *report.Report `json:"report"`
}

func (s stateDir) livePath(id string) string { return filepath.Join(s.dir, liveDir, id+".json") }

// writeLive keeps a run's report as of at.
func (s stateDir) writeLive(id string, at time.Time, rep *report.Report) error {
	data, err := json.Marshal(snapshot{At: at, Report: rep})
	if err != nil {
		return fmt.Errorf("encoding the snapshot of run %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(s.livePath(id), data, 0o600); err != nil {
		return fmt.Errorf("writing the snapshot of run %s: %w", id, err)
	}
	return nil
}

// readLive returns a run's latest snapshot; nil when there is none or it
// cannot be read.
func (s stateDir) readLive(id string) *snapshot {
	data, err := os.ReadFile(s.livePath(id))
	if err != nil {
		return nil
	}
	var snap snapshot
	if json.Unmarshal(data, &snap) != nil || snap.Report == nil || snap.Report.RunID != id {
		return nil
	}
	return &snap
}

// removeLive forgets a run's snapshot.
func (s stateDir) removeLive(id string) error {
	if err := os.Remove(s.livePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the snapshot of run %s: %w", id, err)
	}
	return nil
}
