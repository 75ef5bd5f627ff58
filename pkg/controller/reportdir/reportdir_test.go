package reportdir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
)

func TestStoreReadDelete(t *testing.T) {
	ctx := t.Context()
	d := Dir{Root: t.TempDir()}
	rep := &report.Report{Schema: report.SchemaVersion, RunID: "recsys.nightly-20261208-030000", Plan: report.Plan{Name: "nightly"}}
	rep.Phase, rep.Verdict = v1alpha1.RunSucceeded, v1alpha1.VerdictPass

	ref, err := d.Store(ctx, "recsys", rep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(d.Root, "recsys", "nightly", "recsys.nightly-20261208-030000"), ref.Path)

	data, err := d.Read(ctx, ref, "json")
	require.NoError(t, err)
	back, err := report.Read(data)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunSucceeded, back.Phase)
	_, err = d.Read(ctx, ref, "html")
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, d.Delete(ctx, ref))
	_, err = os.Stat(ref.Path)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = d.Read(ctx, ref, "json")
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, d.Delete(ctx, ref), "deleting twice is harmless")
}

func TestPathsOutsideTheRootAreRefused(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "report.json"), []byte("{}"), 0o644))
	d := Dir{Root: root}
	for _, path := range []string{outside, root, filepath.Join(root, ".."), filepath.Join(root, "a", "..", "..", filepath.Base(outside))} {
		ref := v1alpha1.ReportReference{Path: path}
		require.ErrorContains(t, d.Delete(ctx, ref), "outside the report directory", path)
		_, err := d.Read(ctx, ref, "json")
		require.ErrorContains(t, err, "outside the report directory", path)
	}
	_, err := os.Stat(outside)
	require.NoError(t, err)
}
