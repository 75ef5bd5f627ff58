package reportdir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/reportdir"
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

func TestPutListGetFileDelete(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := reportdir.Open(ctx, root)
	require.NoError(t, err)
	require.NoError(t, d.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, d.Put(ctx, rep("a", "a-2", t0.Add(time.Hour), v1alpha1.RunFailed, v1alpha1.VerdictFail)))
	require.NoError(t, d.Put(ctx, rep("b", "b-1", t0.Add(2*time.Hour), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))

	ids := func(q plansdir.Query) []string {
		es, err := d.List(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	require.Equal(t, []string{"b-1", "a-2", "a-1"}, ids(plansdir.Query{}), "newest first")
	require.Equal(t, []string{"a-2", "a-1"}, ids(plansdir.Query{Plan: "a"}))
	require.Equal(t, []string{"b-1", "a-1"}, ids(plansdir.Query{Verdict: v1alpha1.VerdictPass}))
	require.Equal(t, []string{"a-2"}, ids(plansdir.Query{Phase: v1alpha1.RunFailed}))
	require.Equal(t, []string{"b-1"}, ids(plansdir.Query{Limit: 1}))

	e, err := d.Get(ctx, "a-2")
	require.NoError(t, err)
	require.Equal(t, plansdir.Entry{ID: "a-2", Plan: "a", Trigger: v1alpha1.TriggerManual, Phase: v1alpha1.RunFailed, Verdict: v1alpha1.VerdictFail,
		StartTime: t0.Add(time.Hour), CompletionTime: t0.Add(time.Hour + time.Minute), Formats: []string{"json", "md", "junit"}}, e)
	md, err := d.File(ctx, "a-2", "md")
	require.NoError(t, err)
	require.Contains(t, string(md), "a-2")
	_, err = d.File(ctx, "a-2", "html")
	require.ErrorIs(t, err, plansdir.ErrNotFound)
	_, err = d.Get(ctx, "nope")
	require.ErrorIs(t, err, plansdir.ErrNotFound)

	require.NoError(t, d.Delete(ctx, []string{"a-1", "nope"}))
	require.Equal(t, []string{"b-1", "a-2"}, ids(plansdir.Query{}))
	require.NoDirExists(t, filepath.Join(root, "a", "a-1"))

	again, err := reportdir.Open(ctx, root)
	require.NoError(t, err)
	es, err := again.List(ctx, plansdir.Query{})
	require.NoError(t, err)
	require.Len(t, es, 2, "the history survives a reopen")
}

// TestOpenCatchesUp: runs written beside the index (drill run with the
// same --report-dir) are picked up, vanished ones dropped, partial and
// misplaced ones skipped, and a lost index rebuilt.
func TestOpenCatchesUp(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	d, err := reportdir.Open(ctx, root)
	require.NoError(t, err)
	require.NoError(t, d.Put(ctx, rep("a", "a-1", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))
	require.NoError(t, d.Put(ctx, rep("a", "a-2", t0.Add(time.Minute), v1alpha1.RunSucceeded, v1alpha1.VerdictPass)))

	_, err = report.Write(root, rep("c", "c-1", t0.Add(time.Hour), v1alpha1.RunAborted, v1alpha1.VerdictNotJudged))
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "a", "a-1")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "c-partial"), 0o755))
	misplaced := rep("c", "c-9", t0, v1alpha1.RunSucceeded, v1alpha1.VerdictPass)
	data, err := report.JSON(misplaced)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "c", "c-8"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "c", "c-8", report.JSONFile), data, 0o644))

	d, err = reportdir.Open(ctx, root)
	require.NoError(t, err)
	es, err := d.List(ctx, plansdir.Query{})
	require.NoError(t, err)
	require.Equal(t, []string{"c-1", "a-2"}, []string{es[0].ID, es[1].ID})
	require.Len(t, es, 2)

	require.NoError(t, os.WriteFile(filepath.Join(root, reportdir.IndexFile), []byte("{broken"), 0o644))
	d, err = reportdir.Open(ctx, root)
	require.NoError(t, err)
	es, err = d.List(ctx, plansdir.Query{})
	require.NoError(t, err)
	require.Len(t, es, 2, "a broken index is rebuilt from the run directories")
}

// BenchmarkList lists 2,000 runs from the index.
func BenchmarkList(b *testing.B) {
	root := b.TempDir()
	for i := range 2000 {
		_, err := report.Write(root, rep(fmt.Sprintf("plan-%d", i%10), fmt.Sprintf("run-%04d", i), t0.Add(time.Duration(i)*time.Minute), v1alpha1.RunSucceeded, v1alpha1.VerdictPass))
		require.NoError(b, err)
	}
	d, err := reportdir.Open(b.Context(), root)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		es, err := d.List(b.Context(), plansdir.Query{})
		if err != nil || len(es) != 2000 {
			b.Fatal(err, len(es))
		}
	}
}
