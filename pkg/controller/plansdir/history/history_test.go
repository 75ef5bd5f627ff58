package history_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/history"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/slo"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// rep is a finished run's report.
func rep(plan, id string, start time.Time, phase v1alpha1.RunPhase, verdict v1alpha1.Verdict) *report.Report {
	s, e := metav1.NewMicroTime(start), metav1.NewMicroTime(start.Add(time.Minute))
	r := &report.Report{Schema: report.SchemaVersion, RunID: id, Plan: report.Plan{Name: plan}, Trigger: v1alpha1.TriggerManual, Series: []slo.Point{}}
	r.Phase, r.Verdict, r.StartTime, r.CompletionTime = phase, verdict, &s, &e
	return r
}

func open(tb testing.TB, root string, clk *testingclock.FakeClock) *history.History {
	tb.Helper()
	a, err := local.New(root)
	require.NoError(tb, err)
	h, err := history.Open(tb.Context(), history.Options{Archive: a, KeepDir: filepath.Join(tb.TempDir(), "keep"), Clock: clk})
	require.NoError(tb, err)
	return h
}

func ids(t *testing.T, h *history.History, q plansdir.Query) []string {
	t.Helper()
	es, err := h.List(t.Context(), q)
	require.NoError(t, err)
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestPutListGetFileDelete(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	h := open(t, root, testingclock.NewFakeClock(t0))
	require.NoError(t, h.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, h.Put(ctx, rep("a", "a-2", t0.Add(time.Hour), v1alpha1.RunFailed, v1alpha1.VerdictFail)))
	require.NoError(t, h.Put(ctx, rep("b", "b-1", t0.Add(2*time.Hour), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))

	require.Equal(t, []string{"b-1", "a-2", "a-1"}, ids(t, h, plansdir.Query{}), "newest first")
	require.Equal(t, []string{"a-2", "a-1"}, ids(t, h, plansdir.Query{Plan: "a"}))
	require.Equal(t, []string{"b-1", "a-1"}, ids(t, h, plansdir.Query{Verdict: v1alpha1.VerdictPass}))
	require.Equal(t, []string{"a-2"}, ids(t, h, plansdir.Query{Phase: v1alpha1.RunFailed}))
	require.Equal(t, []string{"b-1"}, ids(t, h, plansdir.Query{Limit: 1}))

	e, err := h.Get(ctx, "a-2")
	require.NoError(t, err)
	require.Equal(t, plansdir.Entry{ID: "a-2", Plan: "a", Trigger: v1alpha1.TriggerManual, Phase: v1alpha1.RunFailed, Verdict: v1alpha1.VerdictFail,
		StartTime: t0.Add(time.Hour), CompletionTime: t0.Add(time.Hour + time.Minute), Formats: []string{"json", "md", "junit", "html"}}, e)
	md, err := h.File(ctx, "a-2", "md")
	require.NoError(t, err)
	require.Contains(t, string(md), "a-2")
	page, err := h.File(ctx, "a-2", "html")
	require.NoError(t, err)
	require.Contains(t, string(page), "<html")
	require.Contains(t, string(page), "The plan's last 2 runs in the archive", "report.html shows the plan's trend, read from the archive")
	for _, f := range []string{report.JSONFile, report.MarkdownFile, report.JUnitFile, archive.HTMLFile, sums.FileName} {
		require.FileExists(t, filepath.Join(root, "a", "a-2", f), "the run is archived as drill run archives it")
	}
	_, err = h.File(ctx, "a-2", "pdf")
	require.ErrorIs(t, err, plansdir.ErrNotFound)
	_, err = h.Get(ctx, "nope")
	require.ErrorIs(t, err, plansdir.ErrNotFound)

	require.NoError(t, h.Delete(ctx, []string{"a-1", "nope"}))
	require.Equal(t, []string{"b-1", "a-2"}, ids(t, h, plansdir.Query{}))
	require.NoDirExists(t, filepath.Join(root, "a", "a-1"))

	a, err := local.New(root)
	require.NoError(t, err)
	idx, err := a.Index(ctx)
	require.NoError(t, err)
	require.Len(t, idx.Runs, 2, "pruning deletes from the archive and its index")

	again := open(t, root, testingclock.NewFakeClock(t0))
	require.Equal(t, []string{"b-1", "a-2"}, ids(t, again, plansdir.Query{}), "the history survives a reopen")
}

// TestStoringARunTwiceKeepsTheArchivedOne: a run already archived (drill
// serve died between storing it and writing its state) keeps its report.
func TestStoringARunTwiceKeepsTheArchivedOne(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	h := open(t, root, testingclock.NewFakeClock(t0))
	require.NoError(t, h.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, h.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunError, v1alpha1.VerdictNotJudged)))
	e, err := h.Get(ctx, "a-1")
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunSucceeded, e.Phase)

	// The same from a second history that did not know it yet.
	other := open(t, root, testingclock.NewFakeClock(t0))
	require.NoError(t, h.Put(ctx, rep("a", "a-2", t0.Add(time.Hour), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, other.Put(ctx, rep("a", "a-2", t0.Add(time.Hour), v1alpha1.RunError, v1alpha1.VerdictNotJudged)))
	e, err = other.Get(ctx, "a-2")
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunSucceeded, e.Phase)
}

// TestRefreshCatchesUp: runs archived beside drill serve (drill run with
// the same --archive) appear, and runs deleted beside it (drill reports
// prune) go, once Refresh has passed; partial and misplaced report sets
// are skipped, and a broken index is rebuilt.
func TestRefreshCatchesUp(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	clk := testingclock.NewFakeClock(t0)
	h := open(t, root, clk)
	require.NoError(t, h.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, h.Put(ctx, rep("a", "a-2", t0.Add(time.Minute), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))

	beside, err := local.New(root)
	require.NoError(t, err)
	_, err = archive.Store(ctx, beside, rep("c", "c-1", t0.Add(time.Hour), v1alpha1.RunAborted, v1alpha1.VerdictNotJudged), archive.StoreOptions{KeepDir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "a", "a-1")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "c-partial"), 0o755))
	data, err := report.JSON(rep("c", "c-9", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "c-8"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "c", "c-8", report.JSONFile), data, 0o644))

	require.Equal(t, []string{"a-2", "a-1"}, ids(t, h, plansdir.Query{}), "the index is not read again before Refresh")
	clk.Step(history.DefaultRefresh)
	require.Equal(t, []string{"c-1", "a-2"}, ids(t, h, plansdir.Query{}))

	require.NoError(t, os.WriteFile(filepath.Join(root, "index.json"), []byte("{broken"), 0o644))
	require.Equal(t, []string{"c-1", "a-2"}, ids(t, open(t, root, clk), plansdir.Query{}), "a broken index is rebuilt from the run directories")
}

// BenchmarkList lists 2,000 archived runs.
func BenchmarkList(b *testing.B) {
	root := b.TempDir()
	a, err := local.New(root)
	require.NoError(b, err)
	for i := range 2000 {
		r := rep(fmt.Sprintf("plan-%d", i%10), fmt.Sprintf("run-%04d", i), t0.Add(time.Duration(i)*time.Minute), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)
		files, err := archive.Files(r, nil)
		require.NoError(b, err)
		r0 := r
		_, err = a.Put(b.Context(), indexEntry(r0), files)
		require.NoError(b, err)
	}
	h := open(b, root, testingclock.NewFakeClock(t0))
	b.ResetTimer()
	for b.Loop() {
		es, err := h.List(b.Context(), plansdir.Query{})
		if err != nil || len(es) != 2000 {
			b.Fatal(err, len(es))
		}
	}
}
