package prune

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/journal"
)

// Runs are the archived runs as items, grouped by plan.
func Runs(entries []index.Entry) []Item {
	out := make([]Item, 0, len(entries))
	for _, e := range entries {
		out = append(out, Item{Kind: KindRun, Group: e.Plan, Name: e.RunID, Path: e.Path, Time: e.StartTime})
	}
	return out
}

// Journals are the run journals in dir as items, grouped by plan. A
// journal is pinned while its run has not finished (it is live, or it
// crashed and drill cleanup needs it), while a fault it records may still
// be active, and when it is the newest of its plan (drill run --resume
// reads the newest).
func Journals(dir string) ([]Item, error) {
	recs, err := journal.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the journals: %w", err)
	}
	newest := map[string]time.Time{}
	for _, r := range recs {
		if r.Started.After(newest[r.Plan]) {
			newest[r.Plan] = r.Started
		}
	}
	var out []Item
	for _, r := range recs {
		it := Item{Kind: KindJournal, Group: r.Plan, Name: r.RunID, Path: filepath.Join(dir, r.RunID+".json"), Time: r.Started}
		switch {
		case r.Finished == nil:
			it.Pinned = "the run has not finished: it is live, or drill cleanup needs its journal"
		case len(r.Unfinished()) > 0:
			it.Pinned = "a fault it injected may still be active: drill cleanup needs its journal"
		case r.Started.Equal(newest[r.Plan]):
			it.Pinned = "the newest run of the plan: drill run --resume reads it"
		}
		out = append(out, it)
	}
	return out, nil
}

// LiveFunc says whether the sandbox in dir is running.
type LiveFunc func(dir string) (bool, error)

// SandboxLogs are the logs directories of the sandboxes under
// <stateDir>/sandbox as items, in one group, aged by their newest file. A
// sandbox that live says is running is pinned.
func SandboxLogs(stateDir string, live LiveFunc) ([]Item, error) {
	root := filepath.Join(stateDir, "sandbox")
	dirs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the sandboxes: %w", err)
	}
	var out []Item
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		logs := filepath.Join(dir, "logs")
		newest, err := newestIn(logs)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		it := Item{Kind: KindSandboxLogs, Group: "sandbox", Name: d.Name(), Path: logs, Time: newest}
		on, err := live(dir)
		if err != nil {
			return nil, fmt.Errorf("sandbox %s: %w", dir, err)
		}
		if on {
			it.Pinned = "the sandbox is running"
		}
		out = append(out, it)
	}
	return out, nil
}

// newestIn is the latest modification time of dir and the files in it.
func newestIn(dir string) (time.Time, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return time.Time{}, err
	}
	newest := info.ModTime()
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading %s: %w", dir, err)
	}
	return newest, nil
}

// Remover deletes archived runs: the archive does.
type Remover interface {
	Delete(ctx context.Context, entries []index.Entry) error
}

// Apply removes what the decisions say: runs through the archive (their
// entries looked up in entries), journal files and sandbox logs
// directories (and a sandbox directory left empty). It returns the
// decisions it carried out and every error at once.
func Apply(ctx context.Context, ds []Decision, archive Remover, entries []index.Entry) ([]Decision, error) {
	byKey := make(map[string]index.Entry, len(entries))
	for _, e := range entries {
		byKey[e.Plan+"/"+e.RunID] = e
	}
	var done []Decision
	var runs []index.Entry
	var runDecisions []Decision
	var errs []error
	for _, d := range ds {
		if !d.Remove {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		switch d.Kind {
		case KindRun:
			if e, ok := byKey[d.Group+"/"+d.Name]; ok {
				runs = append(runs, e)
				runDecisions = append(runDecisions, d)
			}
		case KindJournal:
			if err := os.Remove(d.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing journal %s: %w", d.Path, err))
				continue
			}
			done = append(done, d)
		case KindSandboxLogs:
			if err := os.RemoveAll(d.Path); err != nil {
				errs = append(errs, fmt.Errorf("removing sandbox logs %s: %w", d.Path, err))
				continue
			}
			_ = os.Remove(filepath.Dir(d.Path)) // only when nothing else is left
			done = append(done, d)
		}
	}
	if len(runs) > 0 {
		if err := archive.Delete(ctx, runs); err != nil {
			errs = append(errs, err)
		} else {
			done = append(done, runDecisions...)
		}
	}
	return done, errors.Join(errs...)
}
