package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		data    string
	}{
		{name: "a new file in a new directory is created", data: "one"},
		{name: "an existing file is replaced whole", data: "two", prepare: func(t *testing.T, path string) {
			t.Helper()
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte("a much longer old content"), 0o644))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "report.json")
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			require.NoError(t, WriteFile(path, []byte(tt.data), 0o640))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, tt.data, string(got))
			info, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o640), info.Mode().Perm())
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no temporary file is left behind")
		})
	}
}

func TestWriteFileFailureLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	require.NoError(t, os.Mkdir(path, 0o755)) // a directory cannot be replaced by rename
	require.Error(t, WriteFile(path, []byte("x"), 0o644))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file is removed on failure")
}
