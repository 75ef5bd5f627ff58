package reportarchive

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/report"
)

// ErrNotFound says a run has no report set, or no file of a format.
var ErrNotFound = errors.New("report not found")

// Files maps the API's report formats to the files of a report set.
var Files = map[string]string{
	"json":  report.JSONFile,
	"md":    report.MarkdownFile,
	"junit": report.JUnitFile,
	"html":  archive.HTMLFile,
}

// Archive keeps DrillRuns' reports in a report archive.
type Archive struct {
	archive archive.Archive
	keep    *local.Archive
	store   archive.StoreOptions
}

// New returns the reports of archive a; a report set a cannot take is kept
// in the directory archive keepDir (<state-dir>/reports). store tunes the
// trend and timeout of archive.Store; its KeepDir is keepDir.
func New(a archive.Archive, keepDir string, store archive.StoreOptions) (*Archive, error) {
	if a == nil || keepDir == "" {
		return nil, errors.New("the reports need an archive and a keep directory")
	}
	keep, err := local.New(keepDir)
	if err != nil {
		return nil, err
	}
	store.KeepDir = keepDir
	return &Archive{archive: a, keep: keep, store: store}, nil
}

// Store archives the report of a run of namespace (rep.RunID is
// <namespace>.<name>) and says where it is. When the archive cannot take
// it, the report is kept in the keep directory: Store returns that
// reference and the *archive.KeptError that says so.
func (x *Archive) Store(ctx context.Context, _ string, rep *report.Report) (v1alpha1.ReportReference, error) {
	st, err := archive.Store(ctx, x.archive, rep, x.store)
	if st == nil {
		return v1alpha1.ReportReference{}, err
	}
	return v1alpha1.ReportReference{Path: st.Location}, err
}

// entry is the index entry of run's report set in an archive: what Get
// and Delete need.
func entry(run *v1alpha1.DrillRun) index.Entry {
	plan, id := runs.PlanName(run), runs.ReportID(run.Namespace, run.Name)
	e := index.Entry{Plan: plan, RunID: id, Path: plan + "/" + id}
	if ref := run.Status.Report; ref != nil {
		// A registry's reference ends with the manifest digest it recorded.
		if i := strings.LastIndex(ref.Path, "@sha256:"); i >= 0 {
			e.Digest = ref.Path[i+1:]
		}
	}
	return e
}

// kept says whether run's report was kept in the keep directory.
func (x *Archive) kept(run *v1alpha1.DrillRun) bool {
	ref := run.Status.Report
	if ref == nil {
		return false
	}
	rel, err := filepath.Rel(x.keep.Root(), ref.Path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// Read returns one file of run's report set by API format (json, md,
// junit, html), verified against its SHA256SUMS, or ErrNotFound.
func (x *Archive) Read(ctx context.Context, run *v1alpha1.DrillRun, format string) ([]byte, error) {
	name, ok := Files[format]
	if !ok || run.Status.Report == nil {
		return nil, ErrNotFound
	}
	from := x.archive
	if x.kept(run) {
		from = x.keep
	}
	files, err := from.Get(ctx, entry(run))
	if err != nil {
		var pr index.Problem
		if errors.As(err, &pr) && strings.HasPrefix(pr.Reason, "missing") {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, pr.Error())
		}
		return nil, fmt.Errorf("reading the report of run %s/%s from %s: %w", run.Namespace, run.Name, from, err)
	}
	for _, f := range files {
		if f.Name == name {
			return f.Data, nil
		}
	}
	return nil, ErrNotFound
}

// Delete removes run's report set from the archive (or the keep
// directory). A report already gone is no error.
func (x *Archive) Delete(ctx context.Context, run *v1alpha1.DrillRun) error {
	from := x.archive
	if x.kept(run) {
		from = x.keep
	}
	if err := from.Delete(ctx, []index.Entry{entry(run)}); err != nil {
		return fmt.Errorf("deleting the report of run %s/%s from %s: %w", run.Namespace, run.Name, from, err)
	}
	return nil
}
