package reportarchive_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/controller/reportarchive"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

// finished is run recsys/<name> of plan nightly, finished with its report
// stored at ref.
func finished(name string, ref *v1alpha1.ReportReference) *v1alpha1.DrillRun {
	return &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: name},
		Spec:       v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}},
		Status:     v1alpha1.DrillRunStatus{Report: ref},
	}
}

func rep(name string) *report.Report {
	r := &report.Report{Schema: report.SchemaVersion, RunID: "recsys." + name, Plan: report.Plan{Name: "nightly"}, Series: []slo.Point{}}
	now := metav1.NowMicro()
	r.Phase, r.Verdict, r.StartTime, r.CompletionTime = v1alpha1.RunSucceeded, v1alpha1.VerdictPass, &now, &now
	return r
}

func TestStoreReadDelete(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	a, err := local.New(root)
	require.NoError(t, err)
	x, err := reportarchive.New(a, t.TempDir(), archive.StoreOptions{})
	require.NoError(t, err)

	ref, err := x.Store(ctx, "recsys", rep("nightly-20261208-030000"))
	require.NoError(t, err)
	dir := filepath.Join(root, "nightly", "recsys.nightly-20261208-030000")
	require.Equal(t, dir, ref.Path, "run <namespace>.<name> of its plan, where drill reports finds it")
	for _, f := range []string{report.JSONFile, report.MarkdownFile, report.JUnitFile, archive.HTMLFile, sums.FileName} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	run := finished("nightly-20261208-030000", &ref)

	data, err := x.Read(ctx, run, "json")
	require.NoError(t, err)
	back, err := report.Read(data)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunSucceeded, back.Phase)
	page, err := x.Read(ctx, run, "html")
	require.NoError(t, err)
	require.Contains(t, string(page), "<html")
	_, err = x.Read(ctx, run, "pdf")
	require.ErrorIs(t, err, reportarchive.ErrNotFound)
	_, err = x.Read(ctx, finished("nightly-20261208-030000", nil), "json")
	require.ErrorIs(t, err, reportarchive.ErrNotFound, "a run without a report has none")

	// A report changed after it was archived is refused, never served.
	require.NoError(t, os.WriteFile(filepath.Join(dir, report.MarkdownFile), []byte("# all good\n"), 0o644))
	_, err = x.Read(ctx, run, "md")
	require.ErrorContains(t, err, "corrupt report")
	require.False(t, errors.Is(err, reportarchive.ErrNotFound))

	require.NoError(t, x.Delete(ctx, run))
	require.NoDirExists(t, dir)
	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Empty(t, idx.Runs, "pruning deletes from the archive's index too")
	_, err = x.Read(ctx, run, "json")
	require.ErrorIs(t, err, reportarchive.ErrNotFound)
	require.NoError(t, x.Delete(ctx, run), "deleting twice is harmless")
}

// TestAReportTheArchiveCannotTakeIsKeptAndServed: the report goes to the
// keep directory, Store says so and where, and Read and Delete find it
// there.
func TestAReportTheArchiveCannotTakeIsKeptAndServed(t *testing.T) {
	ctx := t.Context()
	blocked := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))
	a, err := local.New(filepath.Join(blocked, "archive"))
	require.NoError(t, err)
	keep := t.TempDir()
	x, err := reportarchive.New(a, keep, archive.StoreOptions{})
	require.NoError(t, err)

	ref, err := x.Store(ctx, "recsys", rep("r1"))
	var kept *archive.KeptError
	require.ErrorAs(t, err, &kept)
	require.Equal(t, filepath.Join(keep, "nightly", "recsys.r1"), ref.Path)
	require.Equal(t, ref.Path, kept.Dir)
	run := finished("r1", &ref)
	data, err := x.Read(ctx, run, "md")
	require.NoError(t, err)
	require.Contains(t, string(data), "recsys.r1")
	require.NoError(t, x.Delete(ctx, run))
	require.NoDirExists(t, ref.Path)
}

func TestPathsOutsideTheArchiveAreNeverTouched(t *testing.T) {
	ctx := t.Context()
	a, err := local.New(t.TempDir())
	require.NoError(t, err)
	x, err := reportarchive.New(a, t.TempDir(), archive.StoreOptions{})
	require.NoError(t, err)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, report.JSONFile), []byte("{}"), 0o644))
	// A status points anywhere: the run's report is found by its plan and
	// run id in the archive, never by the path.
	run := finished("r1", &v1alpha1.ReportReference{Path: outside})
	_, err = x.Read(ctx, run, "json")
	require.ErrorIs(t, err, reportarchive.ErrNotFound)
	require.NoError(t, x.Delete(ctx, run))
	require.FileExists(t, filepath.Join(outside, report.JSONFile))
	for _, name := range []string{"..", "../x", ".hidden"} {
		bad := finished(name, &v1alpha1.ReportReference{Path: "x"})
		bad.Namespace = ""
		bad.Spec.PlanRef.Name = name
		require.Error(t, x.Delete(ctx, bad), name)
	}
}
