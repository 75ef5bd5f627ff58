package journal

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
)

func TestJournalLifecycle(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	j, err := Create(dir, Record{RunID: "quickstart-1", Plan: "quickstart", Platform: "none", Started: clk.Now()}, clk)
	require.NoError(t, err)
	_, err = Create(dir, Record{RunID: "quickstart-1"}, clk)
	require.ErrorContains(t, err, "already exists")

	targets := []evidence.Target{{Kind: "action", Name: "flip-flag"}}
	require.NoError(t, j.Begin("flip", v1alpha1.Fault{Exec: &v1alpha1.ExecFault{}}, targets))
	require.ErrorContains(t, j.Begin("flip", v1alpha1.Fault{}, nil), "already in the journal")

	recs, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Len(t, recs[0].Unfinished(), 1, "a fault is unfinished from the moment it is begun")
	require.Equal(t, Injecting, recs[0].Faults[0].State)
	require.Equal(t, os.Getpid(), recs[0].Owner.PID)

	require.NoError(t, j.Set("flip", Active, ""))
	require.NoError(t, j.Set("flip", Reverted, ""))
	require.ErrorContains(t, j.Set("nope", Active, ""), "not in the journal")
	require.NoError(t, j.StepDone("flip"))
	require.NoError(t, j.Finish("Succeeded"))

	recs, err = Load(dir)
	require.NoError(t, err)
	require.Empty(t, recs[0].Unfinished())
	require.NotNil(t, recs[0].Finished)
	require.Equal(t, []string{"flip"}, recs[0].Completed)
	require.False(t, recs[0].Resumable(), "a run that succeeded is not resumed")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the journal file, no temporary files")
}

func TestOwnerAlive(t *testing.T) {
	require.True(t, Self().Alive(), "this process is alive")

	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := Owner{PID: cmd.Process.Pid, StartTicks: 12345}
	require.False(t, dead.Alive(), "an exited process is not alive")

	reused := Self()
	reused.StartTicks++
	require.False(t, reused.Alive(), "a reused PID with another start time is not the owner")
}

func TestLoadMissingDirectory(t *testing.T) {
	recs, err := Load(filepath.Join(t.TempDir(), "none"))
	require.NoError(t, err)
	require.Empty(t, recs)
}
