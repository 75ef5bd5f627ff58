//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// gpuNode is what a gpuFailure changes on a node.
type gpuNode struct {
	allocatable int64
	tainted     bool
	record      string // the firedrill.dev/gpu-failure annotation
	runID       string
}

func readGPUNode(ctx context.Context, t *testing.T, c *framework.Cluster, name string) gpuNode {
	t.Helper()
	n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	a := n.Status.Allocatable[framework.GPUResource]
	return gpuNode{
		allocatable: a.Value(),
		tainted: slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Key == v1alpha1.DefaultGPUTaintKey && t.Effect == corev1.TaintEffectNoExecute
		}),
		record: n.Annotations[kube.AnnotationGPUFailure],
		runID:  n.Annotations[kube.AnnotationRunID],
	}
}

// TestGPUFailureThroughDrill runs gpuFailure through the real drill
// binary on a real control plane (kwok nodes with nvidia.com/gpu): a
// node's GPUs fail and its pods move, measured and reverted; a drill
// killed with SIGKILL while a node's GPUs are failed is undone by drill
// cleanup; a failed GPU with no spare anywhere leaves a replacement
// Pending, which the report shows as GPU capacity lost until the revert.
func TestGPUFailureThroughDrill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	east := []string{"gpu-east-1", "gpu-east-2", "gpu-east-3"}
	for i, n := range east {
		c.AddNodes(ctx, t, framework.NodeSpec{Name: n, Region: "us-east", Zone: fmt.Sprintf("us-east-1%c", 'a'+i), GPUs: 2})
	}
	c.CreateNamespace(ctx, t, ns)
	c.DeployRecommender(ctx, t, ns, "us-east", 3)
	c.WaitReady(ctx, t, ns, "recommender-us-east")
	endpoint := okEndpoint(t)
	header := fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %%s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [{kind: Deployment, name: recommender-us-east}]
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  safety: {maxNodes: 1, namespaces: [%s]}
  steps:
    - {name: baseline, wait: 1s}
`, ns, endpoint, ns)
	d := drillRunner{bin: drill, kubeconfig: c.Kubeconfig}
	healthy := func(t *testing.T) {
		t.Helper()
		settleCluster(ctx, t, c)
		for _, n := range east {
			require.Equal(t, gpuNode{allocatable: 2}, readGPUNode(ctx, t, c, n), "node %s is whole", n)
		}
	}

	t.Run("every GPU of a node fails through drill run: its pods move, revert restores the node", func(t *testing.T) {
		healthy(t)
		// The scheduler may place two of the three replicas on one node
		// (it scores nvidia.com/gpu not at all), and a node with no replica
		// loses no capacity: the fault is aimed at a node that runs one.
		busy := nodeWithReplica(ctx, t, c, ns, "recommender-us-east")
		rep, out := d.run(t, writePlan(t, fmt.Sprintf(header, "kube-gpu-full")+fmt.Sprintf(`    - name: gpu
      fault:
        gpuFailure: {region: us-east, selector: {matchLabels: {%s: %s}}}
        duration: 3s
`, corev1.LabelHostname, busy)), "kube-gpu-full", 0)
		f := rep.Steps[1].Fault
		require.Equal(t, "gpuFailure", f.Type)
		require.Len(t, f.Targets, 1, out)
		require.Equal(t, busy, f.Targets[0].Name, out)
		require.NotNil(t, f.Reverted, out)
		require.True(t, f.Failover.Recovered, out)
		require.NotNil(t, f.Failover.CapacityRTO, out)
		require.Equal(t, gpuNode{allocatable: 2}, readGPUNode(ctx, t, c, f.Targets[0].Name), "revert restores the allocatable and removes the taint and marks")
		require.Contains(t, strings.Join(f.Notes, "\n"), "lost 2 of 2 GPUs", out)
		t.Logf("measure: gpuFailure of every GPU of %s through drill run: capacity RTO %s, recovery %s",
			f.Targets[0].Name, f.Failover.CapacityRTO.Round(time.Millisecond), report.OptDuration(f.Failover.RecoveryTime))
		require.GreaterOrEqual(t, f.Failover.CapacityRTO.Duration, podStartDelay, "a replacement takes at least the kwok start delay")
	})

	t.Run("kill -9 of drill while a node's GPUs are failed, then drill cleanup restores the node", func(t *testing.T) {
		healthy(t)
		plan := writePlan(t, fmt.Sprintf(header, "kube-gpu-crash")+`    - name: gpu
      fault:
        gpuFailure: {region: us-east}
        duration: 5m
`)
		state := t.TempDir()
		cmd, out := d.cmd("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "gpu-crash", plan)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		var failed string
		require.Eventually(t, func() bool {
			for _, n := range east {
				if g := readGPUNode(ctx, t, c, n); g.tainted && g.allocatable == 0 {
					failed = n
					return true
				}
			}
			return false
		}, 2*time.Minute, 100*time.Millisecond, "no node lost its GPUs: %s", out)
		killed := killDashNine(t, cmd)
		left := readGPUNode(ctx, t, c, failed)
		require.Equal(t, gpuNode{allocatable: 0, tainted: true, record: `{"allocatable":2,"failed":2,"taint":"nvidia.com/gpu.unhealthy"}`, runID: "gpu-crash"}, left,
			"kill -9 leaves the GPUs failed, with the record of what to restore")
		rec := journaled(state, "gpu-crash")
		require.NotNil(t, rec)
		require.Len(t, rec.Unfinished(), 1, "the journal shows the fault in effect")

		cleanup, cout := d.cmd("cleanup", "--state-dir", state)
		require.NoError(t, cleanup.Run(), cout.String())
		restored := time.Now()
		require.Contains(t, cout.String(), "run gpu-crash, step gpu (gpuFailure on ", cout.String())
		require.Contains(t, cout.String(), failed+"): reverted", cout.String())
		require.Equal(t, gpuNode{allocatable: 2}, readGPUNode(ctx, t, c, failed), "drill cleanup restores the allocatable and removes the taint and the marks")
		t.Logf("measure: gpuFailure kill -9 then drill cleanup: node %s whole again %s after the kill\n%s",
			failed, restored.Sub(killed).Round(10*time.Millisecond), cout)
		require.Empty(t, journaled(state, "gpu-crash").Unfinished())
		c.WaitReady(ctx, t, ns, "recommender-us-east")

		again, aout := d.cmd("cleanup", "--state-dir", state)
		require.NoError(t, again.Run(), aout.String())
		require.Contains(t, aout.String(), "no faults left active")
	})

	t.Run("kill -9 of drill with its journal lost: drill cleanup --from-cluster restores the node from its record", func(t *testing.T) {
		healthy(t)
		state := t.TempDir()
		cmd, out := d.cmd("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "gpu-lost", writePlan(t, fmt.Sprintf(header, "kube-gpu-lost")+`    - name: gpu
      fault:
        gpuFailure: {region: us-east}
        duration: 5m
`))
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		var failed string
		require.Eventually(t, func() bool {
			for _, n := range east {
				if g := readGPUNode(ctx, t, c, n); g.tainted && g.allocatable == 0 && g.runID == "gpu-lost" {
					failed = n
					return true
				}
			}
			return false
		}, 2*time.Minute, 100*time.Millisecond, "no node lost its GPUs: %s", out)
		killed := killDashNine(t, cmd)
		require.NoError(t, os.RemoveAll(state), "the machine is lost with its journal")

		var cout *syncbuf.Buffer
		require.Eventually(t, func() bool {
			var cl *exec.Cmd
			cl, cout = d.cmd("cleanup", "--from-cluster")
			return exitCode(t, cl, cout) == 0 && strings.Contains(cout.String(), "): reverted; heartbeat Lease "+ns+"/firedrill-run-gpu-lost last renewed")
		}, time.Minute, time.Second, "drill cleanup --from-cluster reverts the dead run once its heartbeat is stale")
		restored := time.Since(killed)
		require.Contains(t, cout.String(), "run gpu-lost, step ")
		require.Equal(t, gpuNode{allocatable: 2}, readGPUNode(ctx, t, c, failed), "the node's own record restores it: allocatable, taint and marks")
		t.Logf("measure: gpuFailure kill -9 with the journal lost, drill cleanup --from-cluster: node %s whole again %s after the kill (heartbeat grace %s)\n%s",
			failed, restored.Round(100*time.Millisecond), kube.DefaultHeartbeatGrace, cout)
		c.WaitReady(ctx, t, ns, "recommender-us-east")
	})

	t.Run("drill run with drill serve's generated ClusterRole fails a node's GPUs and restores them", func(t *testing.T) {
		healthy(t)
		// The role is generated from the +kubebuilder:rbac markers; without
		// patch on nodes/status the allocatable cannot be lowered (403).
		role := serveRole(t)
		role.Name = "firedrill-drill-serve-gpu"
		_, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		require.NoError(t, err)
		c.CreateNamespace(ctx, t, serveNamespace)
		kubeconfig, _ := serviceAccountKubeconfig(ctx, t, c, serveNamespace, "drill-serve-gpu", role.Name)
		sa := drillRunner{bin: drill, kubeconfig: kubeconfig}
		rep, out := sa.run(t, writePlan(t, fmt.Sprintf(header, "kube-gpu-rbac")+`    - name: gpu
      fault:
        gpuFailure: {region: us-east}
        duration: 2s
`), "kube-gpu-rbac", 0)
		f := rep.Steps[1].Fault
		require.Empty(t, f.Error, out)
		require.NotNil(t, f.Reverted, out)
		require.Contains(t, strings.Join(f.Notes, "\n"), "lost 2 of 2 GPUs (nvidia.com/gpu allocatable 2 → 0) and was tainted", out)
		require.Equal(t, gpuNode{allocatable: 2}, readGPUNode(ctx, t, c, f.Targets[0].Name))
	})

	t.Run("a GPU fails with no spare anywhere: the report shows the Pending pod as lost GPU capacity until the revert", func(t *testing.T) {
		healthy(t)
		scale(ctx, t, c, "recommender-us-east", 6) // every GPU busy
		t.Cleanup(func() { scale(context.Background(), t, c, "recommender-us-east", 3) })
		c.WaitReady(ctx, t, ns, "recommender-us-east")
		const hold = 6 * time.Second
		rep, out := d.run(t, writePlan(t, fmt.Sprintf(header, "kube-gpu-pending")+fmt.Sprintf(`    - name: gpu
      fault:
        gpuFailure: {region: us-east, gpus: 1, onInsufficientCapacity: warn}
        duration: %s
`, hold)), "kube-gpu-pending", 0)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		notes := strings.Join(f.Notes, "\n")
		require.Contains(t, notes, "failed GPUs despite insufficient capacity (onInsufficientCapacity: warn)", out)
		require.Contains(t, notes, "lost 1 of 2 GPUs (nvidia.com/gpu allocatable 2 → 1)", out)
		require.Contains(t, notes, "is waiting for a GPU", "the Pending replacement is in the report")
		short := lowestReady(rep, "Deployment/"+ns+"/recommender-us-east")
		require.Equal(t, 5, short, "one replica of six is lost while the GPU is failed")
		require.NotNil(t, f.Failover.CapacityRTO, out)
		t.Logf("measure: gpuFailure of 1 GPU with none spare: capacity RTO %s (the fault held %s; the Pending pod runs once the revert gives the GPU back); notes:\n%s",
			f.Failover.CapacityRTO.Round(time.Millisecond), hold, notes)
		require.Greater(t, f.Failover.CapacityRTO.Duration, hold, "capacity is back only after the revert")
	})
}

// scale sets a Deployment's replicas in namespace ns.
func scale(ctx context.Context, t *testing.T, c *framework.Cluster, name string, replicas int32) {
	t.Helper()
	s, err := c.Clientset.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	s.Spec.Replicas = replicas
	_, err = c.Clientset.AppsV1().Deployments(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// lowestReady is the fewest ready replicas the report's capacity series
// shows for workload.
func lowestReady(rep *report.Report, workload string) int {
	low := -1
	for _, p := range rep.Capacity {
		if p.Workload == workload && (low < 0 || p.Ready < low) {
			low = p.Ready
		}
	}
	return low
}

// nodeWithReplica returns the first node, by name, that runs a pod of the
// Deployment name in ns, and logs where each of its pods runs.
func nodeWithReplica(ctx context.Context, t *testing.T, c *framework.Cluster, ns, name string) string {
	t.Helper()
	d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
	require.NoError(t, err)
	var nodes []string
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
			nodes = append(nodes, p.Spec.NodeName)
		}
	}
	require.NotEmpty(t, nodes, "no pod of %s/%s is placed", ns, name)
	slices.Sort(nodes)
	t.Logf("pods of %s/%s run on %v", ns, name, nodes)
	return nodes[0]
}
