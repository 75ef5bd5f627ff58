//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// drainedNode waits until a node carries run runID's marks and is
// cordoned, and returns it.
func (b *serveBed) drainedNode(ctx context.Context, t *testing.T, runID string, out *syncbuf.Buffer) string {
	t.Helper()
	var node string
	require.Eventually(t, func() bool {
		nodes, err := b.c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, n := range nodes.Items {
			if n.Spec.Unschedulable && n.Annotations["firedrill.dev/run-id"] == runID {
				node = n.Name
				return true
			}
		}
		return false
	}, 2*time.Minute, 50*time.Millisecond, "no node was cordoned by %s: %s", runID, lazy(func() string {
		if out == nil {
			return ""
		}
		return out.String()
	}))
	return node
}

// uncordonedAfter polls node every 20 ms until it is schedulable and
// carries no marks; it returns when that was first seen.
func (b *serveBed) uncordoned(ctx context.Context, t *testing.T, node string, timeout time.Duration) time.Time {
	t.Helper()
	var at time.Time
	require.Eventually(t, func() bool {
		n, err := b.c.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil || n.Spec.Unschedulable || n.Annotations["firedrill.dev/run-id"] != "" {
			return false
		}
		at = time.Now()
		return true
	}, timeout, 20*time.Millisecond, "node %s is uncordoned", node)
	return at
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestServeAbortAndFailover: drill trigger and drill abort against drill
// serve (an abort reverts a drain within 2 s); with two drill serve
// processes only the leader runs drills; kill -9 of the leader in the
// middle of a drain: the other takes the Lease, uncordons the node and
// marks the run Interrupted.
func TestServeAbortAndFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	b := newServeBed(ctx, t)
	drill := drillRunner{bin: buildDrill(t), kubeconfig: b.c.Kubeconfig}
	a := startServe(ctx, t, "a", b.kubeconfig)
	p := b.plan(t, "drain", `  steps:
    - {name: baseline, wait: 1s}
    - name: drain
      fault:
        nodeDrain: {region: us-east, mode: one}
        duration: 5m
`)
	b.create(ctx, t, p)

	t.Run("drill abort reverts a drain within 2 s and drill trigger reports the run Aborted", func(t *testing.T) {
		trig, tout := drill.cmd("trigger", "-n", ns, p.Name)
		require.NoError(t, trig.Start())
		var runName string
		require.Eventually(t, func() bool {
			var list v1alpha1.DrillRunList
			if b.c.Client.List(ctx, &list) != nil {
				return false
			}
			for _, r := range list.Items {
				if r.Spec.PlanRef != nil && r.Spec.PlanRef.Name == p.Name {
					runName = r.Name
					return true
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "drill trigger creates a run: %s", tout)
		node := b.drainedNode(ctx, t, ns+"."+runName, tout)
		run := b.waitRun(ctx, t, runName, 30*time.Second, func(r *v1alpha1.DrillRun) bool {
			return len(r.Status.Journal) == 1 && r.Status.Journal[0].State == v1alpha1.FaultActive
		}, "the drain is journaled in the status")
		require.Equal(t, []v1alpha1.FaultTarget{{Kind: "node", Name: node, Region: "us-east"}}, run.Status.Journal[0].Targets)

		abort, aout := drill.cmd("abort", "-n", ns, runName, "--reason", "e2e")
		asked := time.Now()
		require.NoError(t, abort.Start())
		back := b.uncordoned(ctx, t, node, 10*time.Second)
		t.Logf("measure: drill abort to node %s uncordoned: %s", node, back.Sub(asked).Round(time.Millisecond))
		require.LessOrEqual(t, back.Sub(asked), 2*time.Second, "an abort reverts every active fault within 2 s")

		require.NoError(t, abort.Wait(), aout.String())
		require.Contains(t, aout.String(), "Aborted, verdict NotJudged")
		err := trig.Wait()
		require.Equal(t, 2, exitStatus(err), tout.String())
		require.Contains(t, tout.String(), "injected   drain: nodeDrain on node/"+node)
		require.Contains(t, tout.String(), "Aborted, verdict NotJudged")
		run = b.waitRun(ctx, t, runName, 30*time.Second, released(v1alpha1.RunAborted), "the run ends Aborted")
		require.Contains(t, run.Status.Message, "aborted on request (e2e (by ")
		require.Equal(t, v1alpha1.FaultReverted, run.Status.Journal[0].State)
		require.Equal(t, v1alpha1.TriggerManual, run.Spec.Trigger)
		settleCluster(ctx, t, b.c)
	})

	t.Run("with two drill serve only the leader runs drills; kill -9 of it mid-drain, the other takes over, uncordons and marks the run", func(t *testing.T) {
		second := startServe(ctx, t, "b", b.kubeconfig)
		idA, idB := a.identity(t), second.identity(t)
		// kubectl create -f of a DrillRun with spec.planRef.
		dr := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "drain-by-hand", Namespace: ns},
			Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: p.Name}}}
		b.create(ctx, t, dr)
		node := b.drainedNode(ctx, t, ns+"."+dr.Name, nil)
		run := b.waitRun(ctx, t, dr.Name, 30*time.Second, func(r *v1alpha1.DrillRun) bool {
			return len(r.Status.Journal) == 1 && r.Status.Journal[0].State == v1alpha1.FaultActive
		}, "the drain is journaled")
		require.Equal(t, idA, run.Status.Runner, "the first drill serve leads and runs it")
		require.NotContains(t, second.out.String(), `"msg":"run started"`, "the standby runs nothing")

		a.kill9(t)
		killed := time.Now()
		back := b.uncordoned(ctx, t, node, time.Minute)
		t.Logf("measure: kill -9 of the leader to node %s uncordoned by the new leader: %s (lease 4s, retry 500ms)", node, back.Sub(killed).Round(time.Millisecond))
		run = b.waitRun(ctx, t, dr.Name, 30*time.Second, released(v1alpha1.RunInterrupted), "the new leader marks it Interrupted")
		require.Equal(t, idA, run.Status.Runner)
		require.Contains(t, run.Status.Message, "drill serve replica "+idA+" stopped while the run was going (step drain); replica "+idB+" reverted drain")
		require.Equal(t, v1alpha1.VerdictNotJudged, run.Status.Verdict)
		require.Equal(t, v1alpha1.FaultReverted, run.Status.Journal[0].State)
		require.Nil(t, run.Status.PlanSpec)
		require.True(t, strings.HasPrefix(run.Status.Report.Path, second.reports))
		data, err := os.ReadFile(filepath.Join(run.Status.Report.Path, report.JSONFile))
		require.NoError(t, err)
		rep, err := report.Read(data)
		require.NoError(t, err)
		require.Equal(t, v1alpha1.RunInterrupted, rep.Phase)
		settleCluster(ctx, t, b.c)

		// The new leader runs the next drill.
		again := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "drain-again", Namespace: ns},
			Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: p.Name}}}
		b.create(ctx, t, again)
		node = b.drainedNode(ctx, t, ns+"."+again.Name, nil)
		require.Equal(t, idB, b.run(ctx, t, again.Name).Status.Runner)
		_, err = exec.Command(drill.bin, "abort", "-n", ns, again.Name, "--kubeconfig", drill.kubeconfig).CombinedOutput()
		require.NoError(t, err)
		b.uncordoned(ctx, t, node, 10*time.Second)
		b.waitRun(ctx, t, again.Name, 30*time.Second, released(v1alpha1.RunAborted), "it ends Aborted")
	})
}
