//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// sandboxGPUPlan is a local sandbox of two regions of two GPU nodes, one
// replica per node, whose us-east node loses its GPU for hold.
func sandboxGPUPlan(t *testing.T, name string, hold time.Duration) string {
	t.Helper()
	return writePlan(t, `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: `+name+`}
spec:
  target:
    platform: local
    local:
      regions: [{name: us-east, nodes: 2, replicas: 2}, {name: us-west, nodes: 2, replicas: 2}]
      startDelay: 300ms
      model: {users: 200, items: 100}
  load: {rate: 20, timeout: 1s}
  objectives: {rto: 30s, recovered: {for: 1s}}
  safety: {maxNodes: 1}
  steps:
    - {name: baseline, wait: 2s}
    - name: gpu
      fault:
        gpuFailure: {region: us-east}
        duration: `+hold.String()+`
`)
}

// local is a drill command without a cluster.
func (d drillRunner) local(args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	cmd := exec.Command(d.bin, args...) //nolint:gosec // the drill binary under test.
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// sandboxProcessesUnder lists the live processes of the sandboxes under a
// state directory.
func sandboxProcessesUnder(state string) []int {
	var out []int
	for _, p := range local.SandboxProcesses() {
		if strings.HasPrefix(p.Sandbox, state+string(filepath.Separator)) {
			out = append(out, p.Pid)
		}
	}
	return out
}

// TestGPUFailureInSandboxThroughDrill runs gpuFailure on the local
// sandbox through the real drill binary: a node loses its GPU, its
// replica (a real process) dies and is replaced on another node, measured
// and reverted; and a drill killed with SIGKILL while the GPU is lost
// takes its sandbox with it, and drill cleanup closes the fault and
// leaves nothing running.
func TestGPUFailureInSandboxThroughDrill(t *testing.T) {
	drill := buildDrill(t)
	d := drillRunner{bin: drill}

	t.Run("a node loses its GPU through drill run: its replica is replaced elsewhere and the report measures it", func(t *testing.T) {
		reports, state := t.TempDir(), t.TempDir()
		c, out := d.local("run", "--state-dir", state, "--archive", reports, "--run-id", "r", sandboxGPUPlan(t, "sandbox-gpu", 3*time.Second))
		require.NoError(t, c.Run(), out.String())
		data, err := os.ReadFile(filepath.Join(reports, "sandbox-gpu", "r", "report.json"))
		require.NoError(t, err, out.String())
		rep, err := report.Read(data)
		require.NoError(t, err)
		f := rep.Steps[1].Fault
		require.Equal(t, "gpuFailure", f.Type)
		require.Len(t, f.Targets, 1)
		require.NotNil(t, f.Reverted, out.String())
		require.True(t, f.Failover.Recovered, out.String())
		require.NotNil(t, f.Failover.CapacityRTO, out.String())
		require.Contains(t, strings.Join(f.Notes, "\n"), "lost its GPU: replica(s) ", out.String())
		t.Logf("measure: sandbox gpuFailure through drill run: capacity RTO %s, service RTO %s, recovery %s",
			f.Failover.CapacityRTO.Round(time.Millisecond), report.OptDuration(f.Failover.ServiceRTO), report.OptDuration(f.Failover.RecoveryTime))
		require.Greater(t, f.Failover.CapacityRTO.Duration, 300*time.Millisecond, "a replacement takes at least the start delay")
		require.Empty(t, sandboxProcessesUnder(state), "the sandbox is stopped with the run")
	})

	t.Run("kill -9 of drill while a node has lost its GPU, then drill cleanup", func(t *testing.T) {
		state := t.TempDir()
		c, out := d.local("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "gpu-crash", sandboxGPUPlan(t, "sandbox-gpu-crash", 5*time.Minute))
		require.NoError(t, c.Start())
		t.Cleanup(func() { _ = c.Process.Kill() })
		var lost *journal.Fault
		require.Eventually(t, func() bool {
			rec := journaled(state, "gpu-crash")
			if rec == nil {
				return false
			}
			for _, f := range rec.Unfinished() {
				if f.ID == "gpu" && f.State == journal.Active {
					lost = f
					return true
				}
			}
			return false
		}, 2*time.Minute, 50*time.Millisecond, "the GPU failure never took effect: %s", out)
		require.Eventually(t, func() bool {
			return strings.Contains(out.String(), "injected   gpu: gpuFailure on "+lost.Targets[0].String())
		},
			10*time.Second, 20*time.Millisecond, "drill reports the injection: %s", out)
		require.NotEmpty(t, sandboxProcessesUnder(state), "the sandbox runs while the GPU is lost")
		killDashNine(t, c)
		require.Eventually(t, func() bool { return len(sandboxProcessesUnder(state)) == 0 }, 10*time.Second, 20*time.Millisecond,
			"the sandbox's processes die with drill (parent-death signal): %v", sandboxProcessesUnder(state))
		require.Len(t, journaled(state, "gpu-crash").Unfinished(), 1, "the journal shows the GPU still lost")

		cleanup, cout := d.local("cleanup", "--state-dir", state)
		require.NoError(t, cleanup.Run(), cout.String())
		require.Contains(t, cout.String(), "run gpu-crash, step gpu (gpuFailure on "+lost.Targets[0].String()+"): reverted", cout.String())
		require.Empty(t, journaled(state, "gpu-crash").Unfinished(), "cleanup closes the fault")
		require.Empty(t, sandboxProcessesUnder(state))
		entries, err := os.ReadDir(filepath.Join(state, "sandbox"))
		require.NoError(t, err)
		for _, e := range entries {
			require.NoDirExists(t, filepath.Join(state, "sandbox", e.Name(), "stores"), "the dead sandbox's data is removed")
		}

		again, aout := d.local("cleanup", "--state-dir", state)
		require.NoError(t, again.Run(), aout.String())
		require.Contains(t, aout.String(), "no faults left active")
	})
}
