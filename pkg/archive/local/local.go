package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/report"
)

// ErrExists is returned by Put when the run is already archived with
// different content: an archived report is never overwritten.
var ErrExists = errors.New("run already archived")

// tmpPrefix starts the hidden directory a report set is written into
// before it is renamed into place.
const tmpPrefix = ".tmp-"

// Archive is a directory archive. It is safe for concurrent use, by
// goroutines and by processes.
type Archive struct {
	root string
}

// New returns the archive rooted at root; it does not touch the disk.
func New(root string) (*Archive, error) {
	if root == "" {
		return nil, errors.New("the archive directory must not be empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive directory %s: %w", root, err)
	}
	return &Archive{root: abs}, nil
}

// Root is the archive's absolute directory.
func (a *Archive) Root() string { return a.root }

// String is the archive's directory.
func (a *Archive) String() string { return a.root }

// Dir is the directory of the run e.
func (a *Archive) Dir(e *index.Entry) string {
	return filepath.Join(a.root, filepath.FromSlash(e.Path))
}

// Check creates the archive directory and proves a file can be written in
// it, so a run knows before it touches anything that its evidence has
// somewhere to go.
func (a *Archive) Check(_ context.Context) error {
	if err := os.MkdirAll(a.root, 0o755); err != nil {
		return fmt.Errorf("archive %s cannot be created: %w", a.root, err)
	}
	f, err := os.CreateTemp(a.root, ".write-test-*")
	if err != nil {
		return fmt.Errorf("archive %s is not writable: %w", a.root, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("firedrill write test\n"))
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("archive %s is not writable: %w", a.root, err)
	}
	if rerr != nil {
		return fmt.Errorf("archive %s: removing the write test: %w", a.root, rerr)
	}
	return nil
}

// Put archives one run's report set: files must hold a SHA256SUMS that
// lists every other file. It returns e with its Path and Digest set. A run
// already archived with the same content is left as it is (a retried Put
// succeeds); with other content Put fails with ErrExists.
func (a *Archive) Put(ctx context.Context, e index.Entry, files []report.File) (index.Entry, error) {
	if err := checkName("plan", e.Plan); err != nil {
		return e, err
	}
	if err := checkName("run id", e.RunID); err != nil {
		return e, err
	}
	manifest := find(files, sums.FileName)
	if manifest == nil {
		return e, fmt.Errorf("archiving %s: the report set has no %s", e.Key(), sums.FileName)
	}
	if err := sums.Verify(manifest, files); err != nil {
		return e, fmt.Errorf("archiving %s: the report set does not match its %s: %w", e.Key(), sums.FileName, err)
	}
	e.Path = e.Plan + "/" + e.RunID
	e.Digest = sums.Digest(manifest)
	planDir := filepath.Join(a.root, e.Plan)
	final := filepath.Join(planDir, e.RunID)

	if old, err := os.ReadFile(filepath.Join(final, sums.FileName)); err == nil { //nolint:gosec // the archive's own file.
		if sums.Digest(old) != e.Digest {
			return e, fmt.Errorf("archiving %s: %w at %s with other content; an archived report is never overwritten", e.Key(), ErrExists, final)
		}
	} else {
		if err := a.writeSet(planDir, final, e, files); err != nil {
			return e, err
		}
	}
	if err := a.update(ctx, func(idx *index.Index) { idx.Upsert(e) }); err != nil {
		return e, fmt.Errorf("archiving %s: the report is at %s but the index was not updated: %w", e.Key(), final, err)
	}
	return e, nil
}

// writeSet writes files into a temporary directory next to final and
// renames it into place.
func (a *Archive) writeSet(planDir, final string, e index.Entry, files []report.File) error {
	if err := os.MkdirAll(planDir, 0o755); err != nil {
		return fmt.Errorf("archiving %s: %w", e.Key(), err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(planDir, tmpPrefix+e.RunID+"-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("archiving %s: %w", e.Key(), err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	// SHA256SUMS last: it is what makes a set complete.
	ordered := slices.Clone(files)
	slices.SortStableFunc(ordered, func(x, y report.File) int {
		return boolInt(x.Name == sums.FileName) - boolInt(y.Name == sums.FileName)
	})
	for _, f := range ordered {
		if err := checkName("file name", f.Name); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, f.Name), f.Data, 0o644); err != nil {
			return fmt.Errorf("archiving %s: %w", e.Key(), err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, errNotEmpty) {
			return fmt.Errorf("archiving %s: %w at %s", e.Key(), ErrExists, final)
		}
		return fmt.Errorf("archiving %s: %w", e.Key(), err)
	}
	ok = true
	if err := atomicfile.SyncDir(planDir); err != nil {
		return fmt.Errorf("archiving %s: %w", e.Key(), err)
	}
	return atomicfile.SyncDir(a.root)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkName refuses a name that is not a single, visible path element.
func checkName(what, name string) error {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("%s %q cannot name a file in the archive", what, name)
	}
	return nil
}

func find(files []report.File, name string) []byte {
	for _, f := range files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// Get reads the report set of e and verifies it: every file against
// SHA256SUMS, and SHA256SUMS against the digest the index recorded.
func (a *Archive) Get(_ context.Context, e index.Entry) ([]report.File, error) {
	files, err := readSet(a.Dir(&e))
	if err != nil {
		return nil, index.Problem{Path: e.Path, Reason: err.Error()}
	}
	manifest := find(files, sums.FileName)
	if e.Digest != "" && sums.Digest(manifest) != e.Digest {
		return files, index.Problem{Path: e.Path, Reason: fmt.Sprintf("%s is not the one archived: its digest is %s, the index recorded %s; the report set was changed after it was archived",
			sums.FileName, sums.Digest(manifest), e.Digest)}
	}
	return files, nil
}

// readSet reads and verifies the report set in dir. A missing manifest
// makes it partial, a mismatch corrupt.
func readSet(dir string) ([]report.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("missing: the report directory is gone")
		}
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	var files []report.File
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		if !de.Type().IsRegular() {
			return nil, fmt.Errorf("corrupt: %s is not a regular file", de.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name())) //nolint:gosec // a file of the archive.
		if err != nil {
			return nil, fmt.Errorf("unreadable: %w", err)
		}
		files = append(files, report.File{Name: de.Name(), Data: data})
	}
	manifest := find(files, sums.FileName)
	if manifest == nil {
		return nil, fmt.Errorf("partial report: %s is missing, so the set was never completed or was damaged", sums.FileName)
	}
	if err := sums.Verify(manifest, files); err != nil {
		return nil, fmt.Errorf("corrupt report: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if find(files, report.JSONFile) == nil {
		return nil, fmt.Errorf("partial report: %s is missing", report.JSONFile)
	}
	return files, nil
}

// entryOf reads and verifies the run directory plan/run and derives its
// index entry from its report.json.
func (a *Archive) entryOf(plan, run string) (index.Entry, error) {
	path := plan + "/" + run
	files, err := readSet(filepath.Join(a.root, plan, run))
	if err != nil {
		return index.Entry{}, index.Problem{Path: path, Reason: err.Error()}
	}
	r, err := report.Read(find(files, report.JSONFile))
	if err != nil {
		return index.Entry{}, index.Problem{Path: path, Reason: "corrupt report: " + err.Error()}
	}
	if r.Plan.Name != plan || r.RunID != run {
		return index.Entry{}, index.Problem{Path: path, Reason: fmt.Sprintf("misplaced report: it is run %s of plan %s", r.RunID, r.Plan.Name)}
	}
	e := index.FromReport(r)
	e.Path = path
	e.Digest = sums.Digest(find(files, sums.FileName))
	return e, nil
}

// Delete removes the runs' directories, then their index entries. A run
// whose directory is already gone is only dropped from the index.
func (a *Archive) Delete(ctx context.Context, entries []index.Entry) error {
	var keys []string
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := checkName("plan", e.Plan); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := checkName("run id", e.RunID); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(filepath.Join(a.root, e.Plan, e.RunID)); err != nil {
			errs = append(errs, fmt.Errorf("removing run %s: %w", e.Key(), err))
			continue
		}
		keys = append(keys, e.Key())
	}
	if len(keys) > 0 {
		if err := a.update(ctx, func(idx *index.Index) { idx.Remove(keys...) }); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SweepTemp removes the temporary directories of writes that died before
// they finished, older than before, and returns them. A write in progress
// is younger than any sensible before.
func (a *Archive) SweepTemp(ctx context.Context, before time.Time) ([]string, error) {
	plans, err := os.ReadDir(a.root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading archive %s: %w", a.root, err)
	}
	var removed []string
	for _, p := range plans {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(a.root, p.Name()))
		if err != nil {
			return removed, fmt.Errorf("reading archive %s: %w", a.root, err)
		}
		for _, r := range runs {
			if ctx.Err() != nil {
				return removed, ctx.Err()
			}
			if !strings.HasPrefix(r.Name(), tmpPrefix) {
				continue
			}
			info, err := r.Info()
			if err != nil || !info.ModTime().Before(before) {
				continue
			}
			dir := filepath.Join(a.root, p.Name(), r.Name())
			if err := os.RemoveAll(dir); err != nil {
				return removed, fmt.Errorf("removing %s: %w", dir, err)
			}
			removed = append(removed, dir)
		}
	}
	return removed, nil
}
