//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// lazy formats as its result at the time it is printed, so a failure
// message can show the last state a poll saw.
type lazy func() string

func (l lazy) String() string { return l() }

// drillRunner runs the drill binary against a kubeconfig.
type drillRunner struct {
	bin, kubeconfig string
}

func (d drillRunner) cmd(args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	cmd := exec.Command(d.bin, append(args, "--kubeconfig", d.kubeconfig)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// run runs a plan to its end, checks the exit code and returns the report
// (nil when none was written) and the output.
func (d drillRunner) run(t *testing.T, plan, name string, wantExit int) (*report.Report, string) {
	t.Helper()
	reports := t.TempDir()
	cmd, out := d.cmd("run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "r", plan)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, out.String())
	}
	require.Equal(t, wantExit, code, out.String())
	data, err := os.ReadFile(filepath.Join(reports, name, "r", "report.json"))
	if err != nil {
		return nil, out.String()
	}
	rep, err := report.Read(data)
	require.NoError(t, err)
	return rep, out.String()
}

// drillBin is the drill binary, built once for every test of the package
// into drillBin.dir, which TestMain removes.
var drillBin struct {
	sync.Mutex
	dir, path string
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if drillBin.dir != "" {
		_ = os.RemoveAll(drillBin.dir)
	}
	os.Exit(code)
}

// buildDrill builds the drill binary the first time a test asks for it.
// FIREDRILL_E2E_DRILL names a binary to test instead (one built from an
// older commit, to see a test fail on the code it guards against).
func buildDrill(t *testing.T) string {
	t.Helper()
	drillBin.Lock()
	defer drillBin.Unlock()
	if bin := os.Getenv("FIREDRILL_E2E_DRILL"); bin != "" {
		t.Logf("testing the drill binary %s (FIREDRILL_E2E_DRILL)", bin)
		return bin
	}
	if drillBin.path != "" {
		return drillBin.path
	}
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "firedrill-e2e-drill-")
	require.NoError(t, err)
	drillBin.dir = dir
	bin := filepath.Join(dir, "drill")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/drill")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	drillBin.path = bin
	return bin
}

func okEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func writePlan(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	return path
}

// TestDrillRunOnKubernetes drives the kubernetes platform through the
// real drill binary: a pod kill is measured end to end, and a drill killed
// with SIGKILL in the middle of a drain is undone by drill cleanup.
//
// The probes hit a local HTTP server, not the kwok pods (which run no
// process), so these tests measure capacity recovery and crash safety;
// TestServiceDrillsOnProcessPods measures every fault through the Service
// of process-backed pods.
func TestDrillRunOnKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
	)
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", Zone: "us-west-2b", GPUs: 4},
	)
	c.CreateNamespace(ctx, t, ns)
	c.DeployRecommender(ctx, t, ns, "us-east", 3)
	c.DeployRecommender(ctx, t, ns, "us-west", 3)
	c.DeployModelStore(ctx, t, ns)
	for _, d := range []string{"recommender-us-east", "recommender-us-west", "model-store"} {
		c.WaitReady(ctx, t, ns, d)
	}
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
  safety: {maxPodsPercent: 50, maxNodes: 1, namespaces: [%s]}
  steps:
    - {name: baseline, wait: 1s}
`, ns, endpoint, ns)
	d := drillRunner{bin: drill, kubeconfig: c.Kubeconfig}
	run := d.cmd

	t.Run("a pod kill is measured through drill run", func(t *testing.T) {
		plan := writePlan(t, fmt.Sprintf(header, "kube-pod-kill")+`    - name: kill
      fault:
        podKill: {selector: {matchLabels: {app: recommender}}, gpuOnly: true, mode: one}
`)
		reports := t.TempDir()
		cmd, out := run("run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "kill", plan)
		require.NoError(t, cmd.Run(), out.String())
		data, err := os.ReadFile(filepath.Join(reports, "kube-pod-kill", "kill", "report.json"))
		require.NoError(t, err)
		rep, err := report.Read(data)
		require.NoError(t, err)
		f := rep.Steps[1].Fault
		require.Len(t, f.Targets, 1)
		require.NotNil(t, f.Failover.CapacityRTO, out.String())
		t.Logf("measure: pod kill capacity RTO through drill run %s", f.Failover.CapacityRTO.Duration)
		require.GreaterOrEqual(t, f.Failover.CapacityRTO.Duration, podStartDelay, "a replacement pod takes at least the kwok start delay")
		require.Less(t, f.Failover.CapacityRTO.Duration, 30*time.Second)
		require.NotNil(t, f.Failover.Instants.Replaced, "the replacement pod is reported")
	})

	t.Run("kill -9 of drill mid-drain, then drill cleanup uncordons the node", func(t *testing.T) {
		plan := writePlan(t, fmt.Sprintf(header, "kube-drain")+`    - name: drain
      fault:
        nodeDrain: {region: us-east, mode: one}
        duration: 5m
`)
		state := t.TempDir()
		cmd, out := run("run", "--state-dir", state, "--archive", t.TempDir(), plan)
		require.NoError(t, cmd.Start())
		var drained string
		require.Eventually(t, func() bool {
			nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false
			}
			for _, n := range nodes.Items {
				if n.Spec.Unschedulable && n.Annotations["firedrill.dev/run-id"] != "" {
					drained = n.Name
					return true
				}
			}
			return false
		}, 2*time.Minute, 100*time.Millisecond, "no node was cordoned: %s", out.String())
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		n, err := c.Clientset.CoreV1().Nodes().Get(ctx, drained, metav1.GetOptions{})
		require.NoError(t, err)
		require.True(t, n.Spec.Unschedulable, "kill -9 leaves the node cordoned")

		cleanup, cout := run("cleanup", "--state-dir", state)
		require.NoError(t, cleanup.Run(), cout.String())
		require.Contains(t, cout.String(), "reverted")
		n, err = c.Clientset.CoreV1().Nodes().Get(ctx, drained, metav1.GetOptions{})
		require.NoError(t, err)
		require.False(t, n.Spec.Unschedulable, "drill cleanup uncordons the node")
		require.Empty(t, n.Annotations["firedrill.dev/run-id"], "and removes firedrill's bookkeeping")
	})

	settle := func(t *testing.T) {
		t.Helper()
		settleCluster(ctx, t, c)
	}

	// runPlan runs a plan, with both regions and the store watched, to the
	// end and returns its report.
	runPlan := func(t *testing.T, name, steps string, wantExit int) (*report.Report, string) {
		t.Helper()
		plan := writePlan(t, strings.Replace(fmt.Sprintf(header, name), "    workloads: [{kind: Deployment, name: recommender-us-east}]",
			"    workloads: [{kind: Deployment, name: recommender-us-east}, {kind: Deployment, name: recommender-us-west}]\n    modelStore: {workload: {kind: Deployment, name: model-store}}", 1)+steps)
		return d.run(t, plan, name, wantExit)
	}

	t.Run("a drain is measured from its first eviction and reverted", func(t *testing.T) {
		settle(t)
		rep, out := runPlan(t, "kube-drain-full", `    - name: drain
      fault:
        nodeDrain: {region: us-east, mode: one}
`, 0)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		require.True(t, f.Failover.Recovered, out)
		node := f.Targets[0].Name
		n, err := c.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		require.NoError(t, err)
		require.False(t, n.Spec.Unschedulable, "the revert uncordons %s", node)
		require.NotNil(t, f.Failover.CapacityRTO, out)
		t.Logf("measure: drain of %s, capacity RTO %s", node, f.Failover.CapacityRTO.Duration)
		require.GreaterOrEqual(t, f.Failover.CapacityRTO.Duration, podStartDelay,
			"an evicted pod's replacement takes at least the kwok start delay, counted from the first eviction")
	})

	t.Run("a model store outage with a pod restart is reverted", func(t *testing.T) {
		settle(t)
		rep, out := runPlan(t, "kube-store", `    - name: store
      fault:
        modelStoreOutage: {mode: unavailable, restartReplicas: 1}
        duration: 3s
`, 0)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "model-store", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(1), *d.Spec.Replicas, "the store's replicas are restored")
		t.Logf("measure: store outage recovery %s", report.OptDuration(f.Failover.RecoveryTime))
	})

	t.Run("a region cutover by scaling to zero fails back", func(t *testing.T) {
		settle(t)
		rep, out := runPlan(t, "kube-cutover", `    - name: cutover
      fault:
        regionCutover: {from: us-east, to: us-west, method: scaleToZero}
        duration: 3s
`, 0)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		require.NotNil(t, f.Failback, out)
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(3), *d.Spec.Replicas, "fail-back restores us-east")
		t.Logf("measure: cutover recovery %s, after fail-back %s", report.OptDuration(f.Failover.RecoveryTime), report.OptDuration(f.Failback.RecoveryTime))
	})

	t.Run("a Chaos Mesh fault without its CRDs stops the drill with a clear error", func(t *testing.T) {
		_, out := runPlan(t, "kube-chaos", `    - name: chaos
      fault:
        chaosMesh: {kind: PodChaos, spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: recommender}}}}
`, 2)
		require.Contains(t, out, "Chaos Mesh")
	})
}

// settleCluster waits until the previous scenario's effects are gone: no
// node cordoned, every Deployment back at its replicas, and every
// disruption budget allowing a disruption again (the disruption
// controller updates it some time after the pods are Ready).
func settleCluster(ctx context.Context, t *testing.T, c *framework.Cluster) {
	t.Helper()
	var why string
	require.Eventually(t, func() bool {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false
		}
		for _, n := range nodes.Items {
			if n.Spec.Unschedulable {
				why = "node " + n.Name + " is cordoned"
				return false
			}
		}
		deps, err := c.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false
		}
		for _, d := range deps.Items {
			if d.Status.ReadyReplicas != *d.Spec.Replicas || d.Status.UpdatedReplicas != *d.Spec.Replicas || d.Status.Replicas != *d.Spec.Replicas {
				why = fmt.Sprintf("deployment %s: %d/%d ready, %d in all", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas, d.Status.Replicas)
				return false
			}
		}
		pdbs, err := c.Clientset.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false
		}
		for _, b := range pdbs.Items {
			if b.Status.DisruptionsAllowed < 1 || b.Status.ObservedGeneration < b.Generation {
				why = fmt.Sprintf("budget %s allows %d disruptions", b.Name, b.Status.DisruptionsAllowed)
				return false
			}
		}
		return true
	}, 2*time.Minute, 200*time.Millisecond, "the cluster did not settle: %s", lazy(func() string { return why }))
}
