package sandboxdir_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/platform/local/sandboxdir"
)

func TestStateRoundTrips(t *testing.T) {
	dir := t.TempDir()
	st := sandboxdir.State{ID: "sb-1", Pid: 42, Ready: true, Endpoint: "http://127.0.0.1:1", Stores: map[string]string{"us-east": "127.0.0.1:2"}, Logs: "/logs"}
	require.NoError(t, sandboxdir.WriteState(dir, st))
	got, err := sandboxdir.ReadState(dir)
	require.NoError(t, err)
	require.Equal(t, st, got)
	_, err = sandboxdir.ReadState(t.TempDir())
	require.ErrorContains(t, err, "reading the sandbox state")
}

// sandbox makes a sandbox directory under stateDir owned by pid, with
// stores, node caches and logs.
func sandbox(t *testing.T, stateDir, id string, pid int) string {
	t.Helper()
	dir := filepath.Join(stateDir, "sandbox", id)
	for _, d := range []string{"logs", "nodes", "stores"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.NoError(t, sandboxdir.WriteState(dir, sandboxdir.State{ID: id, Pid: pid}))
	return dir
}

func TestKillLeftoversCleansOnlySandboxesWhoseOwnerIsGone(t *testing.T) {
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	stateDir := t.TempDir()
	dead := sandbox(t, stateDir, "dead", gone.Process.Pid)
	live := sandbox(t, stateDir, "live", os.Getpid())

	_, err := sandboxdir.KillLeftovers(stateDir)
	require.NoError(t, err)

	for _, d := range []string{"nodes", "stores", sandboxdir.StateFile} {
		require.NoFileExists(t, filepath.Join(dead, d))
		require.NoDirExists(t, filepath.Join(dead, d))
		require.FileExists(t, filepath.Join(live, sandboxdir.StateFile))
	}
	require.DirExists(t, filepath.Join(dead, "logs"), "a dead sandbox's logs are kept")
	require.DirExists(t, filepath.Join(live, "stores"), "a live sandbox is left alone")

	killed, err := sandboxdir.KillLeftovers(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, killed, "no sandbox directory is nothing to do")
}
