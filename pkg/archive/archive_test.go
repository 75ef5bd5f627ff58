package archive_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/oci"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/report/schema"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func drill(i int, slower float64) *report.Report {
	return archivetest.Drill(archivetest.DrillOptions{
		Plan: "nightly", RunID: fmt.Sprintf("nightly-%03d", i), Start: t0.Add(time.Duration(i) * 24 * time.Hour),
		Duration: 2 * time.Minute, Rate: 20, Faults: 2, Seed: uint64(i), Slower: []float64{slower, 1},
	})
}

func TestOpenChoosesTheKindByLocation(t *testing.T) {
	a, err := archive.Open("oci://127.0.0.1:5000/drills", archive.Options{})
	require.NoError(t, err)
	require.IsType(t, &oci.Archive{}, a)
	a, err = archive.Open("reports", archive.Options{})
	require.NoError(t, err)
	require.IsType(t, &local.Archive{}, a)
	_, err = archive.Open("", archive.Options{})
	require.ErrorContains(t, err, "no archive")
	_, err = archive.Open("oci://127.0.0.1:5000/drills:latest", archive.Options{})
	require.ErrorContains(t, err, "without a tag or digest")
}

func TestTestInputsAreValidReports(t *testing.T) {
	require.NoError(t, schema.Validate(archivetest.QuickstartJSON()), "the real quickstart report")
	for _, r := range []*report.Report{drill(1, 1), archivetest.Drill(archivetest.DrillOptions{Faults: 5, Slower: []float64{1, 1, 1, 1, 20}})} {
		data, err := report.JSON(r)
		require.NoError(t, err)
		require.NoError(t, schema.Validate(data), "a synthetic drill")
	}
}

func TestFilesIsTheWholeReportSetWithItsManifest(t *testing.T) {
	r := drill(1, 1)
	files, err := archive.Files(r, nil)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"report.md", "junit.xml", "report.json", "report.html", "SHA256SUMS"}, names)
	require.NoError(t, sums.Verify(files[4].Data, files))
	back, err := archive.ReadReport(files)
	require.NoError(t, err)
	require.Equal(t, r.RunID, back.RunID)
}

func TestStoreArchivesTheSetWithTheTrendOfEarlierRuns(t *testing.T) {
	ctx := context.Background()
	a, err := archive.Open(filepath.Join(t.TempDir(), "reports"), archive.Options{})
	require.NoError(t, err)
	require.NoError(t, a.Check(ctx))
	keep := filepath.Join(t.TempDir(), "state", "reports")
	// Five ordinary runs, then one whose first fault takes three times
	// as long.
	var last *archive.Stored
	for i := range 6 {
		slower := 1.0
		if i == 5 {
			slower = 3
		}
		st, err := archive.Store(ctx, a, drill(i, slower), archive.StoreOptions{KeepDir: keep})
		require.NoError(t, err)
		require.False(t, st.Kept)
		last = st
	}
	require.Equal(t, filepath.Join(a.String(), "nightly", "nightly-005"), last.Location)
	require.Equal(t, filepath.Join(last.Location, "report.html"), last.HTML)
	require.FileExists(t, last.HTML)
	require.Len(t, last.Trend.Runs, 6, "five earlier runs and this one")
	flagged := last.Trend.Regressions()
	require.Len(t, flagged, 1)
	require.Equal(t, "podKill-1", flagged[0].Series.Fault)
	page, err := os.ReadFile(last.HTML)
	require.NoError(t, err)
	require.Contains(t, string(page), "Regressions against earlier runs")

	// Rendering the page again from the archive gives the same page: the
	// trend of a run is the runs before it, whatever came after.
	_, err = archive.Store(ctx, a, drill(6, 1), archive.StoreOptions{KeepDir: keep})
	require.NoError(t, err)
	again, err := archive.RenderHTML(ctx, a, last.Entry, trend.DefaultRule())
	require.NoError(t, err)
	require.Equal(t, string(page), string(again))
	_, err = os.Stat(keep)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing was kept: the archive took every report")
}

func TestStoreKeepsTheReportWhenTheArchiveFailsAndSaysWhere(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "reports")
	a, err := archive.Open(root, archive.Options{})
	require.NoError(t, err)
	require.NoError(t, a.Check(ctx))
	// The archive's disk goes away after the check: its directory becomes
	// a file, so nothing can be written under it.
	require.NoError(t, os.RemoveAll(root))
	require.NoError(t, os.WriteFile(root, []byte("not a directory"), 0o644))
	keep := filepath.Join(t.TempDir(), "state", "reports")
	r := drill(1, 1)
	st, err := archive.Store(ctx, a, r, archive.StoreOptions{KeepDir: keep})
	var kept *archive.KeptError
	require.ErrorAs(t, err, &kept)
	dir := filepath.Join(keep, "nightly", "nightly-001")
	require.Equal(t, dir, kept.Dir)
	require.True(t, strings.HasPrefix(err.Error(), "the report could not be stored in "+root+": "), err.Error())
	require.True(t, strings.HasSuffix(err.Error(), "; it is kept at "+dir), err.Error())
	require.True(t, st.Kept)
	require.Equal(t, filepath.Join(dir, "report.html"), st.HTML)

	k, err := local.New(keep)
	require.NoError(t, err)
	idx, err := k.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 1, "the keep directory is an archive too: drill reports can read it")
	_, err = k.Get(ctx, idx.Runs[0])
	require.NoError(t, err)
}

func TestStoreArchivesTheReportOfAnInterruptedRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C: the drill reverted its faults and now writes its report
	a, err := archive.Open(filepath.Join(t.TempDir(), "reports"), archive.Options{})
	require.NoError(t, err)
	st, err := archive.Store(ctx, a, drill(1, 1), archive.StoreOptions{KeepDir: t.TempDir()})
	require.NoError(t, err)
	require.False(t, st.Kept)
	require.FileExists(t, st.HTML)
}

func TestStoreFailsLoudlyWhenNothingCanBeWritten(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blocked := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))
	a, err := archive.Open(filepath.Join(blocked, "reports"), archive.Options{})
	require.NoError(t, err)
	_, err = archive.Store(ctx, a, drill(1, 1), archive.StoreOptions{KeepDir: filepath.Join(blocked, "keep")})
	require.ErrorContains(t, err, "the report could not be stored in "+filepath.Join(blocked, "reports"))
	require.ErrorContains(t, err, "nor kept in "+filepath.Join(blocked, "keep"))
	var kept *archive.KeptError
	require.False(t, errors.As(err, &kept), "nothing was kept")
}

func TestSelectReadsTheArchivesProblems(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "reports")
	a, err := archive.Open(root, archive.Options{})
	require.NoError(t, err)
	for i := range 2 {
		_, err := archive.Store(ctx, a, drill(i, 1), archive.StoreOptions{KeepDir: t.TempDir()})
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "nightly", "nightly-half-written"), 0o755))
	es, problems, err := archive.Select(ctx, a, index.Query{})
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, []index.Problem{{Path: "nightly/nightly-half-written", Reason: "partial report: SHA256SUMS is missing, so the set was never completed or was damaged"}}, problems)
}

// BenchmarkFilesOneHourDrill renders the whole report set (report.md,
// junit.xml, report.json, report.html, SHA256SUMS) of a one-hour drill at
// 50 requests/s with eight faults.
func BenchmarkFilesOneHourDrill(b *testing.B) {
	r := archivetest.Drill(archivetest.DrillOptions{Duration: time.Hour, Rate: 50, Faults: 8})
	var size int
	for b.Loop() {
		files, err := archive.Files(r, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = 0
		for _, f := range files {
			size += len(f.Data)
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "set-MiB")
}

// BenchmarkStoreInto10kArchive is the end of drill run: the trend read
// from an archive of 10,000 runs, the set rendered and written, the index
// rewritten.
func BenchmarkStoreInto10kArchive(b *testing.B) {
	ctx := context.Background()
	root := filepath.Join(b.TempDir(), "reports")
	a, err := archive.Open(root, archive.Options{})
	require.NoError(b, err)
	l := a.(*local.Archive)
	// Seed the index with 10,000 runs of five plans (real quickstart
	// entries under new ids); the run directories need not exist for
	// this, only their plans'.
	tmpl := archivetest.QuickstartIndex(b).Runs
	idx := index.New()
	for i := range 10_000 {
		e := tmpl[i%len(tmpl)]
		e.Plan = fmt.Sprintf("plan-%d", i%5)
		e.StartTime = t0.Add(time.Duration(i) * time.Minute)
		e.RunID = fmt.Sprintf("%s-%06d", e.Plan, i)
		e.Path = e.Plan + "/" + e.RunID
		idx.Runs = append(idx.Runs, e)
		require.NoError(b, os.MkdirAll(filepath.Join(root, e.Plan, e.RunID), 0o755))
	}
	data, err := idx.Encode()
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(root, index.FileName), data, 0o644))
	base := archivetest.Drill(archivetest.DrillOptions{Plan: "plan-0", Start: t0.Add(20_000 * time.Minute), Duration: 10 * time.Minute})
	i := 0
	for b.Loop() {
		i++
		r := *base
		r.RunID = fmt.Sprintf("plan-0-new-%d", i)
		if _, err := archive.Store(ctx, l, &r, archive.StoreOptions{KeepDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
	}
}
