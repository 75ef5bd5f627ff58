package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/oci"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// DefaultRefresh is how often a directory archive's index is read again.
const DefaultRefresh = 10 * time.Second

// files are the report set's file of each API format.
var files = map[string]string{
	server.FormatJSON:  report.JSONFile,
	server.FormatMD:    report.MarkdownFile,
	server.FormatJUnit: report.JUnitFile,
	server.FormatHTML:  archive.HTMLFile,
}

// formats are the formats of every archived run, in the order entries
// list them.
var formats = []string{server.FormatJSON, server.FormatMD, server.FormatJUnit, server.FormatHTML}

// Options configure Open. Zero values are documented per field.
type Options struct {
	// Archive keeps the history. Required.
	Archive archive.Archive
	// KeepDir is where a report set goes when the archive cannot take it
	// (archive.StoreOptions.KeepDir): <state-dir>/reports. Required.
	KeepDir string
	// Refresh is how often the archive's index is read again, to see the
	// runs others archived or pruned. Zero means DefaultRefresh for a
	// directory and never (only at Open) for a registry; negative means
	// never.
	Refresh time.Duration
	// Store tunes the report sets' trend and the store's timeout; its
	// KeepDir is KeepDir.
	Store archive.StoreOptions
	// Clock paces Refresh; nil means the real clock.
	Clock clock.PassiveClock
}

// History is the report archive as plansdir.History. It is safe for
// concurrent use.
type History struct {
	opts Options

	mu     sync.Mutex
	loaded time.Time
	// runs are the archived runs, newest first; byID indexes them.
	runs []run
	byID map[string]int
}

// run is one archived run: its entry for the runner and its index entry
// for the archive.
type run struct {
	entry plansdir.Entry
	index index.Entry
}

var _ plansdir.History = (*History)(nil)

// Open checks that the archive can take report sets (archive.Check: a
// directory is created and test-written, a registry reached with its
// credentials) and reads its index. The archive's problems (corrupt or
// partial report sets) are logged and skipped.
func Open(ctx context.Context, opts Options) (*History, error) {
	if opts.Archive == nil || opts.KeepDir == "" {
		return nil, errors.New("the history needs an archive and a keep directory")
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
		if _, ok := opts.Archive.(*local.Archive); !ok {
			opts.Refresh = -1
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	opts.Store.KeepDir = opts.KeepDir
	if err := opts.Archive.Check(ctx); err != nil {
		return nil, err
	}
	h := &History{opts: opts}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.loadLocked(ctx, true); err != nil {
		return nil, err
	}
	return h, nil
}

// loadLocked reads the archive's index (without the runs' faults where
// the archive can). The caller holds h.mu.
func (h *History) loadLocked(ctx context.Context, first bool) error {
	var idx *index.Index
	var err error
	if l, ok := h.opts.Archive.(*local.Archive); ok {
		idx, err = l.Runs(ctx)
	} else {
		idx, err = h.opts.Archive.Index(ctx)
	}
	if err != nil {
		return fmt.Errorf("reading the history from %s: %w", h.opts.Archive, err)
	}
	logger := log.FromContext(ctx)
	for _, p := range idx.Problems {
		if first {
			logger.Warn("skipping a report set of the archive that cannot be read", "archive", h.opts.Archive.String(), "path", p.Path, "reason", p.Reason)
		}
	}
	h.runs = h.runs[:0]
	for i := range idx.Runs {
		h.runs = append(h.runs, runOf(&idx.Runs[i]))
	}
	h.sortLocked()
	h.loaded = h.opts.Clock.Now()
	return nil
}

// refresh reads the index again when Refresh has passed; a failure keeps
// what is held and is logged.
func (h *History) refreshLocked(ctx context.Context) {
	if h.opts.Refresh < 0 || h.opts.Clock.Since(h.loaded) < h.opts.Refresh {
		return
	}
	if err := h.loadLocked(ctx, false); err != nil {
		log.FromContext(ctx).Warn("reading the archive's index again; the history stays as it was", "err", err)
		h.loaded = h.opts.Clock.Now()
	}
}

func runOf(e *index.Entry) run {
	lean := *e
	lean.Faults = nil
	return run{index: lean, entry: plansdir.Entry{
		ID: e.RunID, Plan: e.Plan, Trigger: e.Trigger, Phase: e.Phase, Verdict: e.Verdict, Message: e.Message,
		StartTime: e.StartTime, CompletionTime: e.CompletionTime, WorstRecovery: e.WorstRecovery, Formats: formats,
	}}
}

// sortLocked orders the runs newest first (by start time, then id) and
// indexes them. A run id two plans share (drill run --run-id) is found
// as the newest of them.
func (h *History) sortLocked() {
	slices.SortFunc(h.runs, func(a, b run) int {
		return cmp.Or(b.entry.StartTime.Compare(a.entry.StartTime), cmp.Compare(b.entry.ID, a.entry.ID), cmp.Compare(b.entry.Plan, a.entry.Plan))
	})
	h.byID = make(map[string]int, len(h.runs))
	for i := len(h.runs) - 1; i >= 0; i-- {
		h.byID[h.runs[i].entry.ID] = i
	}
}

// Put implements plansdir.History: archive.Store renders the report set,
// with the plan's trend, and archives it. A run already archived keeps
// its archived report set: archived evidence is never overwritten. When
// the archive fails, the set is kept in KeepDir and the *archive.KeptError
// is returned, so that the runner tries again.
func (h *History) Put(ctx context.Context, rep *report.Report) error {
	h.mu.Lock()
	i, had := h.byID[rep.RunID]
	had = had && h.runs[i].entry.Plan == rep.Plan.Name
	h.mu.Unlock()
	if had {
		log.FromContext(ctx).Info("the run is archived already; its archived report stays", "run", rep.RunID, "archive", h.opts.Archive.String())
		return nil
	}
	st, err := archive.Store(ctx, h.opts.Archive, rep, h.opts.Store)
	if err != nil {
		if errors.Is(err, local.ErrExists) || errors.Is(err, oci.ErrExists) {
			log.FromContext(ctx).Info("the run is archived already; its archived report stays", "run", rep.RunID, "archive", h.opts.Archive.String())
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.loadLocked(ctx, false)
		}
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, runOf(&st.Entry))
	h.sortLocked()
	return nil
}

// List implements plansdir.History.
func (h *History) List(ctx context.Context, q plansdir.Query) ([]plansdir.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshLocked(ctx)
	n := len(h.runs)
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	if q.Plan != "" || q.Verdict != "" || q.Phase != "" {
		n = min(n, 64) // a guess; append grows it
	}
	out := make([]plansdir.Entry, 0, n)
	for i := range h.runs {
		if q.Matches(&h.runs[i].entry) {
			out = append(out, h.runs[i].entry)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

func (h *History) get(ctx context.Context, id string) (run, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshLocked(ctx)
	i, ok := h.byID[id]
	if !ok {
		return run{}, fmt.Errorf("run %q: %w", id, plansdir.ErrNotFound)
	}
	return h.runs[i], nil
}

// Get implements plansdir.History.
func (h *History) Get(ctx context.Context, id string) (plansdir.Entry, error) {
	r, err := h.get(ctx, id)
	return r.entry, err
}

// File implements plansdir.History: the file is read from the archive
// and verified (every file against SHA256SUMS, SHA256SUMS against the
// digest the index recorded). A set that fails verification is an error
// naming it, never served.
func (h *History) File(ctx context.Context, id, format string) ([]byte, error) {
	name, ok := files[format]
	if !ok {
		return nil, fmt.Errorf("the %s report of run %q: %w", format, id, plansdir.ErrNotFound)
	}
	r, err := h.get(ctx, id)
	if err != nil {
		return nil, err
	}
	set, err := h.opts.Archive.Get(ctx, r.index)
	if err != nil {
		var pr index.Problem
		if errors.As(err, &pr) && strings.HasPrefix(pr.Reason, "missing") {
			return nil, fmt.Errorf("the %s report of run %q is gone from %s: %w", format, id, h.opts.Archive, plansdir.ErrNotFound)
		}
		return nil, fmt.Errorf("reading the report of run %q from %s: %w", id, h.opts.Archive, err)
	}
	for _, f := range set {
		if f.Name == name {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("the %s report of run %q: %w", format, id, plansdir.ErrNotFound)
}

// Delete implements plansdir.History: the runs go from the archive (their
// directories, or their artifacts), then from the history.
func (h *History) Delete(ctx context.Context, ids []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var entries []index.Entry
	for _, id := range ids {
		if i, ok := h.byID[id]; ok {
			entries = append(entries, h.runs[i].index)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	if err := h.opts.Archive.Delete(ctx, entries); err != nil {
		// Some may be gone: the archive says which.
		if lerr := h.loadLocked(ctx, false); lerr != nil {
			log.FromContext(ctx).Warn("reading the archive's index again; the history stays as it was", "err", lerr)
		}
		return fmt.Errorf("deleting runs from %s: %w", h.opts.Archive, err)
	}
	gone := map[string]bool{}
	for _, e := range entries {
		gone[e.Key()] = true
	}
	h.runs = slices.DeleteFunc(h.runs, func(r run) bool { return gone[r.index.Key()] })
	h.sortLocked()
	return nil
}
