package state

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

// schema identifies the state file's format.
const schema = "firedrill.dev/serve-state/v1"

// Files under the state directory.
const (
	stateFile = "state.json"
	lockFile  = "lock"
	liveDir   = "live"
)

// File is the state file: what a restart needs so that it neither
// starts a fire twice nor forgets a missed one, nor loses a run.
type File struct {
	// Schema identifies the format; Save sets it.
	Schema string `json:"schema"`
	// Plans are the schedule status of each plan, by name.
	Plans map[string]v1alpha1.ScheduleStatus `json:"plans,omitempty"`
	// Active are the runs created and not yet in the history.
	Active []Run `json:"active,omitempty"`
}

// Run is what the state file keeps about a run in progress.
type Run struct {
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

// Dir reads and writes the state directory.
type Dir struct {
	dir string
}

// New returns the state directory dir; Lock creates it.
func New(dir string) Dir { return Dir{dir: dir} }

func (s Dir) path(name string) string { return filepath.Join(s.dir, name) }

// Lock takes the state directory's lock, held by a live process only:
// a second runner on the same directory is refused.
func (s Dir) Lock() (*os.File, error) {
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

// Load reads the state file; a missing one is an empty state.
func (s Dir) Load() (File, error) {
	st := File{Schema: schema, Plans: map[string]v1alpha1.ScheduleStatus{}}
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
	if st.Schema != schema {
		return st, fmt.Errorf("the serve state %s has schema %q, not %q", s.path(stateFile), st.Schema, schema)
	}
	if st.Plans == nil {
		st.Plans = map[string]v1alpha1.ScheduleStatus{}
	}
	return st, nil
}

// Save writes the state file atomically.
func (s Dir) Save(st File) error {
	st.Schema = schema
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the serve state: %w", err)
	}
	if err := atomicfile.WriteFile(s.path(stateFile), data, 0o600); err != nil {
		return fmt.Errorf("writing the serve state: %w", err)
	}
	return nil
}

// Snapshot is a run's report as of a moment, kept while it runs.
type Snapshot struct {
	// At is the moment.
	At time.Time `json:"at"`
	// Report is the run's report as of At.
	Report *report.Report `json:"report"`
}

func (s Dir) livePath(id string) string { return filepath.Join(s.dir, liveDir, id+".json") }

// WriteLive keeps a run's report as of at.
func (s Dir) WriteLive(id string, at time.Time, rep *report.Report) error {
	data, err := json.Marshal(Snapshot{At: at, Report: rep})
	if err != nil {
		return fmt.Errorf("encoding the snapshot of run %s: %w", id, err)
	}
	if err := atomicfile.WriteFile(s.livePath(id), data, 0o600); err != nil {
		return fmt.Errorf("writing the snapshot of run %s: %w", id, err)
	}
	return nil
}

// ReadLive returns a run's latest snapshot; nil when there is none or it
// cannot be read.
func (s Dir) ReadLive(id string) *Snapshot {
	data, err := os.ReadFile(s.livePath(id))
	if err != nil {
		return nil
	}
	var snap Snapshot
	if json.Unmarshal(data, &snap) != nil || snap.Report == nil || snap.Report.RunID != id {
		return nil
	}
	return &snap
}

// RemoveLive forgets a run's snapshot.
func (s Dir) RemoveLive(id string) error {
	if err := os.Remove(s.livePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the snapshot of run %s: %w", id, err)
	}
	return nil
}
