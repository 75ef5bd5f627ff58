package reports

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/cmd/output"
)

// bigArchive lays out an archive of n runs over five plans: a run
// directory per run (empty: listing never opens one) and the index, each
// entry a real quickstart entry (seven recoveries) under a new run id.
func bigArchive(tb testing.TB, n int) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "reports")
	tmpl := archivetest.QuickstartIndex(tb).Runs
	idx := index.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		e := tmpl[i%len(tmpl)]
		e.Plan = fmt.Sprintf("plan-%d", i%5)
		e.StartTime = t0.Add(time.Duration(i) * time.Hour)
		e.CompletionTime = e.StartTime.Add(70 * time.Second)
		e.RunID = fmt.Sprintf("%s-%s-%04x", e.Plan, e.StartTime.Format("20060102-150405-000"), i)
		e.Path = e.Plan + "/" + e.RunID
		require.NoError(tb, os.MkdirAll(filepath.Join(root, e.Plan, e.RunID), 0o755))
		idx.Runs = append(idx.Runs, e)
	}
	data, err := idx.Encode()
	require.NoError(tb, err)
	// Written after the run directories, as Put does.
	require.NoError(tb, atomicfile.WriteFile(filepath.Join(root, index.FileName), data, 0o644))
	return root
}

// BenchmarkList10k is drill reports list over 10,000 archived runs, from
// opening the archive to the printed table (or JSON).
func BenchmarkList10k(b *testing.B) {
	root := bigArchive(b, 10_000)
	info, err := os.Stat(filepath.Join(root, index.FileName))
	require.NoError(b, err)
	b.ReportMetric(float64(info.Size())/(1<<20), "index-MiB")
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(string(format), func(b *testing.B) {
			ctx := context.Background()
			cpu := cpuTime()
			for b.Loop() {
				a, err := local.New(root)
				if err != nil {
					b.Fatal(err)
				}
				e := &env{archive: a, format: format, out: io.Discard, err: io.Discard}
				if err := runList(ctx, e, listOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			// The process's CPU time per list, less sensitive than the
			// wall time to the other jobs of a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkList10kStale is the same list right after a run was archived by
// a process that died before it updated the index: the plan's directory
// (2,000 runs) is rescanned and the one new run read and verified.
func BenchmarkList10kStale(b *testing.B) {
	root := bigArchive(b, 10_000)
	ctx := context.Background()
	r := archivetest.Drill(archivetest.DrillOptions{Plan: "plan-0", RunID: "plan-0-late", Start: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Duration: 2 * time.Minute})
	e0, files := setOf(b, r)
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(root, "plan-0", "plan-0-late")
		require.NoError(b, os.RemoveAll(dir))
		require.NoError(b, os.MkdirAll(dir, 0o755))
		for _, f := range files {
			require.NoError(b, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
		}
		idx, err := index.Decode(mustRead(b, filepath.Join(root, index.FileName)))
		require.NoError(b, err)
		idx.Remove(e0.Key())
		data, err := idx.Encode()
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(root, index.FileName), data, 0o644))
		past := time.Now().Add(-time.Minute)
		require.NoError(b, os.Chtimes(filepath.Join(root, index.FileName), past, past))
		b.StartTimer()
		a, err := local.New(root)
		require.NoError(b, err)
		e := &env{archive: a, format: output.Text, out: io.Discard, err: io.Discard}
		require.NoError(b, runList(ctx, e, listOptions{}))
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	require.NoError(tb, err)
	return data
}
