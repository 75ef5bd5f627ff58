package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/log"
)

// errNotEmpty is what renaming a directory onto a non-empty one fails
// with on Linux.
var errNotEmpty = syscall.ENOTEMPTY

// lockFile is the flock(2) that serialises index updates.
const lockFile = ".index.lock"

func (a *Archive) indexPath() string { return filepath.Join(a.root, index.FileName) }

// Index returns the archive's index, brought up to date with the run
// directories: a plan directory changed since the index was written is
// rescanned, a missing or unreadable index is rebuilt. When it had to be
// brought up to date, it is also written back, if the archive is writable.
func (a *Archive) Index(ctx context.Context) (*index.Index, error) {
	idx, from, changed, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	if changed {
		// Best effort: a read-only archive is still listed.
		err := a.withLock(ctx, func() error {
			if now, err := os.Stat(a.indexPath()); err == nil && from != nil && os.SameFile(now, from) && now.ModTime().Equal(from.ModTime()) {
				return a.write(idx)
			}
			// Another process wrote the index since: start again.
			fresh, _, _, err := a.load(ctx)
			if err != nil {
				return err
			}
			return a.write(fresh)
		})
		if err != nil {
			log.FromContext(ctx).Debug("could not write the refreshed archive index", "archive", a.root, "err", err)
		}
	}
	return idx, nil
}

// Runs returns the index without the runs' faults (index.DecodeRuns): the
// fast path of a listing. When the index is missing, unreadable or behind
// the run directories, it takes the full path, Index, which also brings the
// index up to date, and drops the faults from its result.
func (a *Archive) Runs(ctx context.Context) (*index.Index, error) {
	if idx, ok := a.leanRuns(); ok {
		return idx, nil
	}
	idx, err := a.Index(ctx)
	if err != nil {
		return nil, err
	}
	for i := range idx.Runs {
		idx.Runs[i].Faults = nil
	}
	return idx, nil
}

// leanRuns reads the index without faults; ok is false when it is not up
// to date with the run directories.
func (a *Archive) leanRuns() (*index.Index, bool) {
	f, err := os.Open(a.indexPath())
	if err != nil {
		return nil, false
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, false
	}
	data, err := readAll(f, info)
	if err != nil {
		return nil, false
	}
	idx, err := index.DecodeRuns(data)
	if err != nil {
		return nil, false
	}
	plans, err := os.ReadDir(a.root)
	if err != nil {
		return nil, false
	}
	present := map[string]bool{}
	for _, p := range plans {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		pi, err := p.Info()
		if err != nil || !pi.ModTime().Before(info.ModTime()) {
			return nil, false
		}
		present[p.Name()] = true
	}
	for _, e := range idx.Runs {
		if !present[e.Plan] {
			return nil, false
		}
	}
	for _, pr := range idx.Problems {
		if plan, _, _ := strings.Cut(pr.Path, "/"); !present[plan] {
			return nil, false
		}
	}
	return idx, true
}

// Reindex rebuilds the index from every run directory, reading and
// verifying each, and writes it.
func (a *Archive) Reindex(ctx context.Context) (*index.Index, error) {
	var out *index.Index
	err := a.withLock(ctx, func() error {
		idx, err := a.scan(ctx, index.New(), nil)
		if err != nil {
			return err
		}
		out = idx
		return a.write(idx)
	})
	return out, err
}

// update applies fn to the current index under the lock and writes it.
func (a *Archive) update(ctx context.Context, fn func(*index.Index)) error {
	return a.withLock(ctx, func() error {
		idx, _, _, err := a.load(ctx)
		if err != nil {
			return err
		}
		fn(idx)
		return a.write(idx)
	})
}

func (a *Archive) write(idx *index.Index) error {
	data, err := idx.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(a.indexPath(), data, 0o644); err != nil {
		return fmt.Errorf("writing the archive index: %w", err)
	}
	return nil
}

// load reads the index and rescans what changed after it was written. It
// returns the file it read (nil when there was none) and whether the
// result differs from it.
func (a *Archive) load(ctx context.Context) (*index.Index, os.FileInfo, bool, error) {
	f, err := os.Open(a.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		idx, err := a.scan(ctx, index.New(), nil)
		return idx, nil, true, err
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the archive index: %w", err)
	}
	defer func() { _ = f.Close() }()
	// Stat the file read, not the path: a writer may replace it between.
	info, err := f.Stat()
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the archive index: %w", err)
	}
	data, err := readAll(f, info)
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the archive index: %w", err)
	}
	idx, err := index.Decode(data)
	if err != nil {
		log.FromContext(ctx).Warn("rebuilding the archive index from the reports", "archive", a.root, "err", err)
		idx, err := a.scan(ctx, index.New(), nil)
		return idx, info, true, err
	}
	written := info.ModTime()
	stale := func(_ string, mod time.Time) bool { return !mod.Before(written) }
	before := len(idx.Runs) + len(idx.Problems)
	idx, n, err := a.refresh(ctx, idx, stale)
	if err != nil {
		return nil, nil, false, err
	}
	return idx, info, n > 0 || before != len(idx.Runs)+len(idx.Problems), nil
}

// scan reads every plan directory the filter selects (all when nil) into
// idx.
func (a *Archive) scan(ctx context.Context, idx *index.Index, stale func(string, time.Time) bool) (*index.Index, error) {
	idx, _, err := a.refresh(ctx, idx, stale)
	return idx, err
}

// refresh brings idx up to date with the plan directories that stale
// selects (all when nil): runs not in the index are read and added (or
// recorded as problems), entries whose directory is gone are dropped, and
// so are the entries of plans whose directory is gone. It returns how many
// runs it read.
func (a *Archive) refresh(ctx context.Context, idx *index.Index, stale func(string, time.Time) bool) (*index.Index, int, error) {
	plans, err := os.ReadDir(a.root)
	if errors.Is(err, fs.ErrNotExist) {
		return idx, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading archive %s: %w", a.root, err)
	}
	present := map[string]bool{}
	read := 0
	for _, p := range plans {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		plan := p.Name()
		present[plan] = true
		if stale != nil {
			info, err := p.Info()
			if err != nil {
				return nil, read, fmt.Errorf("reading archive %s: %w", a.root, err)
			}
			if !stale(plan, info.ModTime()) {
				continue
			}
		}
		n, err := a.refreshPlan(ctx, idx, plan)
		read += n
		if err != nil {
			return nil, read, err
		}
	}
	var gone []string
	for _, e := range idx.Runs {
		if !present[e.Plan] {
			gone = append(gone, e.Key())
		}
	}
	for _, pr := range idx.Problems {
		if plan, _, _ := strings.Cut(pr.Path, "/"); !present[plan] {
			gone = append(gone, pr.Path)
		}
	}
	idx.Remove(gone...)
	return idx, read, nil
}

// refreshPlan brings the entries of one plan up to date with its
// directory.
func (a *Archive) refreshPlan(ctx context.Context, idx *index.Index, plan string) (int, error) {
	dirs, err := os.ReadDir(filepath.Join(a.root, plan))
	if err != nil {
		return 0, fmt.Errorf("reading archive %s: %w", a.root, err)
	}
	known := map[string]bool{}
	for _, e := range idx.Runs {
		if e.Plan == plan {
			known[e.Path] = true
		}
	}
	for _, pr := range idx.Problems {
		known[pr.Path] = true
	}
	onDisk := map[string]bool{}
	read := 0
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		path := plan + "/" + d.Name()
		onDisk[path] = true
		if known[path] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return read, err
		}
		read++
		e, err := a.entryOf(plan, d.Name())
		var pr index.Problem
		switch {
		case errors.As(err, &pr):
			idx.AddProblem(pr)
		case err != nil:
			return read, err
		default:
			idx.Upsert(e)
		}
	}
	var gone []string
	for path := range known {
		if p, _, _ := strings.Cut(path, "/"); p == plan && !onDisk[path] {
			gone = append(gone, path)
		}
	}
	idx.Remove(gone...)
	return read, nil
}

// readAll reads the open file f of size info.Size() in one allocation.
func readAll(f *os.File, info os.FileInfo) ([]byte, error) {
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return data, nil
}

// withLock runs fn holding the index lock, waiting for it until ctx ends.
func (a *Archive) withLock(ctx context.Context, fn func() error) error {
	if err := os.MkdirAll(a.root, 0o755); err != nil {
		return fmt.Errorf("creating archive %s: %w", a.root, err)
	}
	path := filepath.Join(a.root, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644) //nolint:gosec // the archive's own lock file.
	if err != nil {
		return fmt.Errorf("opening the archive lock: %w", err)
	}
	defer func() { _ = f.Close() }()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the archive lock %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	return fn()
}
