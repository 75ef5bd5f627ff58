package reportdir

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// IndexFile is the index's name in the directory. It starts with a dot:
// no plan is named so.
const IndexFile = ".serve-index.json"

// indexSchema identifies the index format.
const indexSchema = "firedrill.dev/serve-history/v1"

// files are the report files of each format.
var files = map[string]string{
	server.FormatJSON:  report.JSONFile,
	server.FormatMD:    report.MarkdownFile,
	server.FormatJUnit: report.JUnitFile,
	server.FormatHTML:  "report.html",
}

// formatOrder lists the formats in the order entries hold them.
var formatOrder = []string{server.FormatJSON, server.FormatMD, server.FormatJUnit, server.FormatHTML}

// index is the index file's document.
type index struct {
	Schema string           `json:"schema"`
	Runs   []plansdir.Entry `json:"runs"`
}

// Dir is a report directory as plansdir.History. It is safe for
// concurrent use by one process.
type Dir struct {
	root string

	mu   sync.RWMutex
	byID map[string]plansdir.Entry
	// runs are the entries, newest first.
	runs []plansdir.Entry
}

var _ plansdir.History = (*Dir)(nil)

// Open opens the report directory root, creating it when needed, and
// brings its index up to date: run directories it does not list are read
// (a partial or corrupt one is skipped and logged), entries whose
// directory is gone are dropped.
func Open(ctx context.Context, root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the report directory: %w", err)
	}
	d := &Dir{root: root, byID: map[string]plansdir.Entry{}}
	indexed, indexErr := d.readIndex()
	if indexErr != nil {
		log.FromContext(ctx).Warn("the report index cannot be read; rebuilding it from the run directories", "index", filepath.Join(root, IndexFile), "err", indexErr)
	}
	changed, err := d.scan(ctx, indexed)
	if err != nil {
		return nil, err
	}
	d.sort()
	if changed || indexErr != nil {
		if err := d.writeIndex(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Root is the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) readIndex() (map[string]plansdir.Entry, error) {
	data, err := os.ReadFile(filepath.Join(d.root, IndexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("decoding the index: %w", err)
	}
	if idx.Schema != indexSchema {
		return nil, fmt.Errorf("the index's schema is %q, not %q", idx.Schema, indexSchema)
	}
	out := make(map[string]plansdir.Entry, len(idx.Runs))
	for _, e := range idx.Runs {
		out[e.Plan+"/"+e.ID] = e
	}
	return out, nil
}

// scan fills d from the run directories, taking what indexed knows and
// reading the rest; it says whether the index must be rewritten.
func (d *Dir) scan(ctx context.Context, indexed map[string]plansdir.Entry) (bool, error) {
	plans, err := os.ReadDir(d.root)
	if err != nil {
		return false, fmt.Errorf("reading the report directory: %w", err)
	}
	changed := false
	for _, p := range plans {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(d.root, p.Name()))
		if err != nil {
			return false, fmt.Errorf("reading the report directory: %w", err)
		}
		for _, r := range runs {
			if !r.IsDir() || strings.HasPrefix(r.Name(), ".") {
				continue
			}
			key := p.Name() + "/" + r.Name()
			e, ok := indexed[key]
			if !ok {
				if e, err = d.read(p.Name(), r.Name()); err != nil {
					log.FromContext(ctx).Warn("skipping a run directory without a readable report", "dir", filepath.Join(d.root, key), "err", err)
					continue
				}
				changed = true
			}
			delete(indexed, key)
			d.byID[e.ID] = e
		}
	}
	return changed || len(indexed) > 0, nil
}

// read builds the entry of a run directory from its report.json.
func (d *Dir) read(plan, run string) (plansdir.Entry, error) {
	dir := filepath.Join(d.root, plan, run)
	data, err := os.ReadFile(filepath.Join(dir, report.JSONFile)) //nolint:gosec // a file of the report directory.
	if err != nil {
		return plansdir.Entry{}, fmt.Errorf("a partial report: %w", err)
	}
	rep, err := report.Read(data)
	if err != nil {
		return plansdir.Entry{}, err
	}
	if rep.RunID != run || rep.Plan.Name != plan {
		return plansdir.Entry{}, fmt.Errorf("a misplaced report: it is run %s of plan %s", rep.RunID, rep.Plan.Name)
	}
	return plansdir.EntryOf(rep, present(dir)), nil
}

// present lists the formats whose files are in dir.
func present(dir string) []string {
	var out []string
	for _, f := range formatOrder {
		if _, err := os.Stat(filepath.Join(dir, files[f])); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// sort orders d.runs newest first. The caller holds d.mu or owns d.
func (d *Dir) sort() {
	d.runs = d.runs[:0]
	for _, e := range d.byID {
		d.runs = append(d.runs, e)
	}
	slices.SortFunc(d.runs, func(a, b plansdir.Entry) int {
		return cmp.Or(b.StartTime.Compare(a.StartTime), cmp.Compare(b.ID, a.ID))
	})
}

// writeIndex writes the index atomically. The caller holds d.mu or owns d.
func (d *Dir) writeIndex() error {
	data, err := json.Marshal(index{Schema: indexSchema, Runs: d.runs})
	if err != nil {
		return fmt.Errorf("encoding the report index: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(d.root, IndexFile), data, 0o644); err != nil {
		return fmt.Errorf("writing the report index: %w", err)
	}
	return nil
}

// Put implements plansdir.History: the report's files are written
// atomically (report.json last), then the index.
func (d *Dir) Put(_ context.Context, rep *report.Report) error {
	dir, err := report.Write(d.root, rep)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byID[rep.RunID] = plansdir.EntryOf(rep, present(dir))
	d.sort()
	return d.writeIndex()
}

// List implements plansdir.History.
func (d *Dir) List(_ context.Context, q plansdir.Query) ([]plansdir.Entry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := len(d.runs)
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	if q.Plan != "" || q.Verdict != "" || q.Phase != "" {
		n = min(n, 64) // a guess; append grows it
	}
	out := make([]plansdir.Entry, 0, n)
	for i := range d.runs {
		if q.Matches(&d.runs[i]) {
			out = append(out, d.runs[i])
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

// Get implements plansdir.History.
func (d *Dir) Get(_ context.Context, id string) (plansdir.Entry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.byID[id]
	if !ok {
		return plansdir.Entry{}, fmt.Errorf("run %q: %w", id, plansdir.ErrNotFound)
	}
	return e, nil
}

// File implements plansdir.History.
func (d *Dir) File(ctx context.Context, id, format string) ([]byte, error) {
	e, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(e.Formats, format) {
		return nil, fmt.Errorf("the %s report of run %q: %w", format, id, plansdir.ErrNotFound)
	}
	data, err := os.ReadFile(filepath.Join(d.root, e.Plan, e.ID, files[format])) //nolint:gosec // a file of the report directory.
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the %s report of run %q is gone from %s: %w", format, id, d.root, plansdir.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the %s report of run %q: %w", format, id, err)
	}
	return data, nil
}

// Delete implements plansdir.History: each run's directory goes, then the
// index is rewritten once.
func (d *Dir) Delete(_ context.Context, ids []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	removed := false
	for _, id := range ids {
		e, ok := d.byID[id]
		if !ok {
			continue
		}
		if err := os.RemoveAll(filepath.Join(d.root, e.Plan, e.ID)); err != nil {
			errs = append(errs, fmt.Errorf("deleting run %s: %w", id, err))
			continue
		}
		delete(d.byID, id)
		removed = true
	}
	if removed {
		d.sort()
		if err := d.writeIndex(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
