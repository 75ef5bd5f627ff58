package artifact

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteThenReadGivesTheFilesBack(t *testing.T) {
	files := map[string][]byte{
		"a.f32": EncodeF32(2, 2, []float32{1, 2, 3, 4}),
		"b.str": EncodeStrings([]string{"x", "", "yz"}),
		"empty": {},
	}
	dir := filepath.Join(t.TempDir(), "artifact")
	require.NoError(t, Write(dir, files))
	got, reg, err := Read(dir)
	require.NoError(t, err)
	defer reg.Release()
	require.Equal(t, files, got)
	f, rows, err := DecodeF32("a.f32", got["a.f32"], 2)
	require.NoError(t, err)
	require.Equal(t, 2, rows)
	require.Equal(t, []float32{1, 2, 3, 4}, f)
	s, err := DecodeStrings("b.str", got["b.str"])
	require.NoError(t, err)
	require.Equal(t, []string{"x", "", "yz"}, s)
	require.Error(t, Write(dir, files), "an existing artifact is not overwritten")
}

func TestReadRefusesWhatTheManifestDoesNotSay(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"a changed file", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("b"), 0o644))
		}},
		{"a file not in the manifest", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "extra"), nil, 0o644))
		}},
		{"a listed file that is missing", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Remove(filepath.Join(dir, "a")))
		}},
		{"no manifest", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "artifact")
			require.NoError(t, Write(dir, map[string][]byte{"a": []byte("a")}))
			tt.damage(t, dir)
			_, _, err := Read(dir)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}
