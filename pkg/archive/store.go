package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
)

// StoreOptions configure Store.
type StoreOptions struct {
	// KeepDir is the directory archive the report set is kept in when the
	// archive cannot take it: <state-dir>/reports. Required.
	KeepDir string
	// History is how many earlier runs the trend shows; 0 means
	// DefaultHistory.
	History int
	// Rule flags regressions in the trend; the zero value means
	// trend.DefaultRule().
	Rule trend.Rule
	// Timeout bounds Store; 0 means DefaultStoreTimeout.
	Timeout time.Duration
}

// DefaultStoreTimeout bounds Store: long enough for a registry's retries,
// short enough that a run never hangs on its archive.
const DefaultStoreTimeout = 5 * time.Minute

// Stored says where a report set went.
type Stored struct {
	// Entry is the run's index entry, with its Path and Digest.
	Entry index.Entry
	// Archive is the archive that holds it: the one asked for, or the
	// keep directory.
	Archive string
	// Location is where the set is, for people: a directory, or
	// host/repository:tag@digest.
	Location string
	// HTML is report.html on disk; empty in a registry.
	HTML string
	// Kept is true when the archive failed and the set was kept in
	// KeepDir instead.
	Kept bool
	// Trend is the trend the page shows; nil when it could not be read.
	Trend *trend.Trend
}

// KeptError is returned by Store when the archive could not take the
// report set and it was kept in the keep directory instead. The run's
// evidence is safe; it is just not where it was asked to go.
type KeptError struct {
	// Archive is the archive that failed.
	Archive string
	// Dir is the directory of the kept report set.
	Dir string
	// Err is why the archive failed.
	Err error
}

// Error names the archive, the cause and where the report is.
func (e *KeptError) Error() string {
	return fmt.Sprintf("the report could not be stored in %s: %v; it is kept at %s", e.Archive, e.Err, e.Dir)
}

// Unwrap returns the archive's error.
func (e *KeptError) Unwrap() error { return e.Err }

// Store archives a finished run's report set in a: it reads the plan's
// trend from a, renders the set (Files), and puts it. If a fails (after
// its own retries), the set is kept in opts.KeepDir and Store returns the
// Stored set and a *KeptError that says where it is. Only when both fail
// is the report lost to the disk, and the error says so.
//
// Store does not stop when ctx is cancelled: a run interrupted with Ctrl-C
// still archives its evidence. opts.Timeout bounds it instead.
func Store(ctx context.Context, a Archive, r *report.Report, opts StoreOptions) (*Stored, error) {
	if opts.KeepDir == "" {
		return nil, errors.New("archive.Store: no keep directory")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultStoreTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Timeout)
	defer cancel()
	rule := opts.Rule
	if rule == (trend.Rule{}) {
		rule = trend.DefaultRule()
	}
	logger := log.FromContext(ctx)
	tr, err := TrendFor(ctx, a, r, opts.History, rule)
	if err != nil {
		// The trend is a view; the evidence matters more.
		logger.Warn("rendering report.html without the trend", "err", err)
		tr = nil
	}
	files, err := Files(r, tr)
	if err != nil {
		return nil, fmt.Errorf("rendering the report of run %s: %w", r.RunID, err)
	}
	e, putErr := a.Put(ctx, index.FromReport(r), files)
	if putErr == nil {
		return &Stored{Entry: e, Archive: a.String(), Location: Locate(a, e), HTML: HTMLPath(a, e), Trend: tr}, nil
	}
	keep, err := local.New(opts.KeepDir)
	if err != nil {
		return nil, fmt.Errorf("the report could not be stored in %s (%w) nor kept: %w", a, putErr, err)
	}
	// A keep directory that already holds the run (a retried Store) is
	// fine; Put is idempotent for the same set.
	// The keep directory gets its own time: the archive may have used
	// all of the timeout.
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer kcancel()
	ke, err := keep.Put(kctx, index.FromReport(r), files)
	if err != nil {
		return nil, fmt.Errorf("the report could not be stored in %s (%w) nor kept in %s: %w", a, putErr, opts.KeepDir, err)
	}
	st := &Stored{Entry: ke, Archive: keep.String(), Location: keep.Dir(&ke), HTML: HTMLPath(keep, ke), Kept: true, Trend: tr}
	return st, &KeptError{Archive: a.String(), Dir: st.Location, Err: putErr}
}
