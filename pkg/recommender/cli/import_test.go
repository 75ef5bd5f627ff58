package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

const movieLensFixture = "../data/movielens/testdata/small"

func TestImportMovieLensWritesADataDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ml")
	got, err := executeCommand(t, NewImportCommand(), "movielens", movieLensFixture, "--out", out)
	require.NoError(t, err)
	checkGolden(t, "import-movielens.golden", strings.ReplaceAll(got, out, "OUT"))
	ds, err := data.Read(t.Context(), out)
	require.NoError(t, err)
	require.Len(t, ds.Interactions, 6)
	require.Equal(t, "Usual Suspects, The (1995)", ds.Items[2].Title)
	require.True(t, ds.HasTime)
}

func TestImportMovieLensChangesNothingOnBadInput(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "ratings.csv"), []byte("userId,movieId,rating,timestamp\n1,1,4,1\n1,2,x,1\n"), 0o644))
	parent := t.TempDir()
	out := filepath.Join(parent, "ml")
	_, err := executeCommand(t, NewImportCommand(), "movielens", src, "--out", out)
	require.ErrorContains(t, err, `ratings.csv:3: column 3 (rating): invalid rating "x"`)
	ents, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Empty(t, ents, "nothing is written")

	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644))
	_, err = executeCommand(t, NewImportCommand(), "movielens", movieLensFixture, "--out", out)
	require.ErrorContains(t, err, "is not empty")
	_, err = executeCommand(t, NewImportCommand(), "movielens", movieLensFixture)
	require.ErrorContains(t, err, "--out is required")
}
