package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/report"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// set renders the report set of a short synthetic run i of plan.
func set(t *testing.T, plan string, i int) (index.Entry, []report.File) {
	t.Helper()
	r := archivetest.Drill(archivetest.DrillOptions{
		Plan: plan, RunID: fmt.Sprintf("%s-%03d", plan, i), Start: t0.Add(time.Duration(i) * time.Hour),
		Duration: 2 * time.Minute, Rate: 10, Faults: 2, Seed: uint64(i),
	})
	files, err := archive.Files(r, nil)
	require.NoError(t, err)
	return index.FromReport(r), files
}

func open(t *testing.T) *local.Archive {
	t.Helper()
	a, err := local.New(filepath.Join(t.TempDir(), "archive"))
	require.NoError(t, err)
	return a
}

func TestPutWritesACompleteSetAndIndexesIt(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	e, files := set(t, "nightly", 1)
	got, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	require.Equal(t, "nightly/nightly-001", got.Path)
	require.Equal(t, sums.Digest(files[len(files)-1].Data), got.Digest)

	dir := a.Dir(&got)
	names := []string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range entries {
		names = append(names, de.Name())
	}
	require.Equal(t, []string{"SHA256SUMS", "junit.xml", "report.html", "report.json", "report.md"}, names)
	cmd := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "an archived set checks with sha256sum alone: %s", out)

	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 1)
	require.Equal(t, got, idx.Runs[0])
	back, err := a.Get(ctx, got)
	require.NoError(t, err)
	require.ElementsMatch(t, files, back)
}

func TestPutIsIdempotentAndNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	e, files := set(t, "nightly", 1)
	first, err := a.Put(ctx, e, files)
	require.NoError(t, err)
	again, err := a.Put(ctx, e, files)
	require.NoError(t, err, "the same set again is a retried Put")
	require.Equal(t, first, again)

	other, otherFiles := set(t, "nightly", 2)
	other.RunID = e.RunID
	_, err = a.Put(ctx, other, otherFiles)
	require.ErrorIs(t, err, local.ErrExists)
	require.ErrorContains(t, err, "an archived report is never overwritten")
	back, err := a.Get(ctx, first)
	require.NoError(t, err)
	require.ElementsMatch(t, files, back, "the first set is untouched")
}

func TestPutRefusesASetThatDoesNotMatchItsManifest(t *testing.T) {
	a := open(t)
	e, files := set(t, "nightly", 1)
	files[0].Data = []byte("changed after the manifest was computed")
	_, err := a.Put(context.Background(), e, files)
	require.ErrorContains(t, err, "does not match its SHA256SUMS")
	_, err = a.Put(context.Background(), e, files[:len(files)-1])
	require.ErrorContains(t, err, "has no SHA256SUMS")
	e.RunID = "../escape"
	_, err = a.Put(context.Background(), e, files)
	require.ErrorContains(t, err, `run id "../escape" cannot name a file in the archive`)
}

func TestCheck(t *testing.T) {
	a := open(t)
	require.NoError(t, a.Check(context.Background()), "a missing directory is created")
	info, err := os.Stat(a.Root())
	require.NoError(t, err)
	require.True(t, info.IsDir())
	entries, err := os.ReadDir(a.Root())
	require.NoError(t, err)
	require.Empty(t, entries, "the write test leaves nothing behind")

	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	blocked, err := local.New(filepath.Join(file, "archive"))
	require.NoError(t, err)
	require.ErrorContains(t, blocked.Check(context.Background()), "cannot be created")
}

func TestConcurrentPutsLoseNoEntry(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "archive")
	const n = 12
	sets := make([][]report.File, n)
	entries := make([]index.Entry, n)
	for i := range n {
		entries[i], sets[i] = set(t, []string{"a", "b", "c"}[i%3], i)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// One archive value per writer, as separate processes have.
			a, err := local.New(root)
			if err == nil {
				_, err = a.Put(ctx, entries[i], sets[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	a, err := local.New(root)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, index.FileName))
	require.NoError(t, err)
	idx, err := index.Decode(data)
	require.NoError(t, err)
	require.Len(t, idx.Runs, n, "the index file itself holds every run")
	got, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, got.Runs, n)
}

func TestIndexFindsRunsTheIndexMissedAndDropsRunsDeletedByHand(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	e1, f1 := set(t, "nightly", 1)
	_, err := a.Put(ctx, e1, f1)
	require.NoError(t, err)

	// A process archived run 2 and died before it updated the index:
	// its directory is there, the index does not know it.
	e2, f2 := set(t, "nightly", 2)
	dir := filepath.Join(a.Root(), "nightly", e2.RunID)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range f2 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 2)
	require.Equal(t, e2.RunID, idx.Runs[1].RunID)
	require.Equal(t, sums.Digest(f2[len(f2)-1].Data), idx.Runs[1].Digest)

	require.NoError(t, os.RemoveAll(filepath.Join(a.Root(), "nightly", e1.RunID)))
	idx, err = a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 1)
	require.Equal(t, e2.RunID, idx.Runs[0].RunID)

	data, err := os.ReadFile(filepath.Join(a.Root(), index.FileName))
	require.NoError(t, err)
	onDisk, err := index.Decode(data)
	require.NoError(t, err)
	require.Equal(t, idx, onDisk, "the refreshed index was written back")
}

func TestRunsIsTheIndexWithoutFaultsAndNeverStale(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	for i := range 2 {
		e, files := set(t, "nightly", i)
		_, err := a.Put(ctx, e, files)
		require.NoError(t, err)
	}
	full, err := a.Index(ctx)
	require.NoError(t, err)
	runs, err := a.Runs(ctx)
	require.NoError(t, err)
	require.Len(t, runs.Runs, 2)
	for i := range runs.Runs {
		require.Nil(t, runs.Runs[i].Faults)
		want := full.Runs[i]
		want.Faults = nil
		require.Equal(t, want, runs.Runs[i])
	}
	// A run the index missed is still listed: Runs sees the plan
	// directory changed and takes the full path.
	e3, f3 := set(t, "weekly", 3)
	dir := filepath.Join(a.Root(), "weekly", e3.RunID)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range f3 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	runs, err = a.Runs(ctx)
	require.NoError(t, err)
	require.Len(t, runs.Runs, 3)
	require.Nil(t, runs.Runs[2].Faults)
}

func TestCorruptAndPartialReportsAreNamedAndSkipped(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	var stored []index.Entry
	for i := range 4 {
		e, files := set(t, "nightly", i)
		got, err := a.Put(ctx, e, files)
		require.NoError(t, err)
		stored = append(stored, got)
	}
	// Run 1: report.html edited. Run 2: the write never finished.
	// Run 3: both the file and SHA256SUMS rewritten consistently.
	require.NoError(t, os.WriteFile(filepath.Join(a.Dir(&stored[1]), "report.html"), []byte("<p>all good</p>"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(a.Dir(&stored[2]), sums.FileName)))
	d3 := a.Dir(&stored[3])
	forged := []byte(`{"forged": true}`)
	require.NoError(t, os.WriteFile(filepath.Join(d3, "report.md"), forged, 0o644))
	var files []report.File
	for _, n := range []string{"junit.xml", "report.html", "report.json", "report.md"} {
		data, err := os.ReadFile(filepath.Join(d3, n))
		require.NoError(t, err)
		files = append(files, report.File{Name: n, Data: data})
	}
	require.NoError(t, os.WriteFile(filepath.Join(d3, sums.FileName), sums.Compute(files), 0o644))

	_, err := a.Get(ctx, stored[0])
	require.NoError(t, err)
	_, err = a.Get(ctx, stored[1])
	require.EqualError(t, err, "nightly/nightly-001: corrupt report: report.html: checksum mismatch: SHA256SUMS says "+
		shortSum(t, stored[1])+", the file has 68fe065d5696…")
	_, err = a.Get(ctx, stored[2])
	require.EqualError(t, err, "nightly/nightly-002: partial report: SHA256SUMS is missing, so the set was never completed or was damaged")
	_, err = a.Get(ctx, stored[3])
	require.ErrorContains(t, err, "nightly/nightly-003: SHA256SUMS is not the one archived")
	require.ErrorContains(t, err, "the report set was changed after it was archived")

	idx, err := a.Reindex(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 2, "the intact run and the consistently forged one (only the index digest catches that, and it was rebuilt)")
	require.Equal(t, []index.Problem{
		{Path: "nightly/nightly-001", Reason: "corrupt report: report.html: checksum mismatch: SHA256SUMS says " + shortSum(t, stored[1]) + ", the file has 68fe065d5696…"},
		{Path: "nightly/nightly-002", Reason: "partial report: SHA256SUMS is missing, so the set was never completed or was damaged"},
	}, idx.Problems)
}

// shortSum is the abbreviated report.html digest SHA256SUMS records for e.
func shortSum(t *testing.T, e index.Entry) string {
	t.Helper()
	_, files := set(t, e.Plan, int(e.RunID[len(e.RunID)-1]-'0'))
	for _, f := range files {
		if f.Name == sums.FileName {
			ss, err := sums.Parse(f.Data)
			require.NoError(t, err)
			for _, s := range ss {
				if s.Name == "report.html" {
					return s.SHA256[:12] + "…"
				}
			}
		}
	}
	t.Fatal("no report.html in the set")
	return ""
}

func TestAMissingOrCorruptIndexIsRebuilt(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	for i := range 3 {
		e, files := set(t, "nightly", i)
		_, err := a.Put(ctx, e, files)
		require.NoError(t, err)
	}
	path := filepath.Join(a.Root(), index.FileName)
	for _, damage := range []func() error{
		func() error { return os.Remove(path) },
		func() error {
			return os.WriteFile(path, []byte(`{"schema": "firedrill.dev/archive-index/v1", "runs": [{"plan":`), 0o644)
		},
	} {
		require.NoError(t, damage())
		idx, err := a.Index(ctx)
		require.NoError(t, err)
		require.Len(t, idx.Runs, 3)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = index.Decode(data)
		require.NoError(t, err, "the rebuilt index was written back")
	}
}

func TestDeleteAndSweepTemp(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	var stored []index.Entry
	for i := range 3 {
		e, files := set(t, "nightly", i)
		got, err := a.Put(ctx, e, files)
		require.NoError(t, err)
		stored = append(stored, got)
	}
	require.NoError(t, a.Delete(ctx, stored[:2]))
	_, err := os.Stat(a.Dir(&stored[0]))
	require.ErrorIs(t, err, os.ErrNotExist)
	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 1)

	old := filepath.Join(a.Root(), "nightly", ".tmp-nightly-009-dead")
	fresh := filepath.Join(a.Root(), "nightly", ".tmp-nightly-010-busy")
	require.NoError(t, os.MkdirAll(old, 0o755))
	require.NoError(t, os.MkdirAll(fresh, 0o755))
	require.NoError(t, os.Chtimes(old, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)))
	removed, err := a.SweepTemp(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, []string{old}, removed)
	_, err = os.Stat(fresh)
	require.NoError(t, err, "a write in progress is left alone")
}
