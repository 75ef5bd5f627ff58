//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/cmd/cleanup"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// The crash tests of issue 17: each kills the real drill binary with
// SIGKILL in the middle of a fault on a real control plane and checks what
// drill cleanup then does. Each fails on the code before the fix it guards
// (FIREDRILL_E2E_DRILL runs them against another binary).

// exitCode runs cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd, out *syncbuf.Buffer) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err, out.String())
	return 0
}

// killDashNine kills a started drill with SIGKILL and reaps it.
func killDashNine(t *testing.T, cmd *exec.Cmd) time.Time {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	return time.Now()
}

// processesWithEnv lists the live processes whose environment holds kv
// (the token drill gives every runbook command it starts).
func processesWithEnv(kv string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+kv+"\x00")) {
			out = append(out, processesOf(pid)...)
		}
	}
	return out
}

// processesRunning lists the live processes whose command line holds
// arg.
func processesRunning(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(arg)) && len(processesOf(pid)) > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// processesOf is pid when it is alive and not a zombie.
func processesOf(pid int) []int {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return nil
	}
	return []int{pid}
}

// journaled reads the journal of run id under a state directory; nil
// while there is none.
func journaled(state, id string) *journal.Record {
	recs, _ := journal.Load(filepath.Join(state, "journal"))
	for _, r := range recs {
		if r.RunID == id {
			return r
		}
	}
	return nil
}

// TestCrashMidSwitchCommandThenCleanup is scenario 1 of issue 17: a
// scaleToZero region cutover whose traffic switch is a command that takes
// 4 s (it leaves the work to a child, as a GSLB script may) is killed with
// SIGKILL while the command runs. The command must not outlive drill and
// undo the cleanup: drill cleanup kills what is left of it before it
// reverts, and the switch stays reverted.
func TestCrashMidSwitchCommandThenCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", GPUs: 4},
	)
	c.CreateNamespace(ctx, t, ns)
	c.DeployRecommender(ctx, t, ns, "us-east", 2)
	c.DeployRecommender(ctx, t, ns, "us-west", 2)
	c.WaitReady(ctx, t, ns, "recommender-us-east")
	c.WaitReady(ctx, t, ns, "recommender-us-west")

	// The switch: the inject leaves a child that moves traffic 4 s later;
	// the revert moves it back at once. Both log what they do.
	dir := t.TempDir()
	traffic, switchLog, script := filepath.Join(dir, "traffic"), filepath.Join(dir, "switch.log"), filepath.Join(dir, "gslb.sh")
	require.NoError(t, os.WriteFile(traffic, []byte("us-east\n"), 0o644))
	require.NoError(t, os.WriteFile(script, fmt.Appendf(nil, `#!/bin/sh
echo "$FIREDRILL_PHASE start" >> %[1]s
if [ "$FIREDRILL_PHASE" = inject ]; then
  ( sleep 4; echo "$FIREDRILL_TRAFFIC_TO" > %[2]s; echo "inject wrote $FIREDRILL_TRAFFIC_TO" >> %[1]s ) &
  wait
else
  echo "$FIREDRILL_TRAFFIC_TO" > %[2]s; echo "$FIREDRILL_PHASE wrote $FIREDRILL_TRAFFIC_TO" >> %[1]s
fi
`, switchLog, traffic), 0o755))
	plan := writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: kube-crash-switch}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [{kind: Deployment, name: recommender-us-east}, {kind: Deployment, name: recommender-us-west}]
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  safety: {namespaces: [%s]}
  steps:
    - {name: baseline, wait: 1s}
    - name: cutover
      fault:
        regionCutover:
          from: us-east
          to: us-west
          method: scaleToZero
          traffic: manual
          switch: {command: [sh, %s]}
        duration: 5m
`, ns, okEndpoint(t), ns, script))
	read := func(path string) string {
		data, _ := os.ReadFile(path)
		return string(data)
	}
	d := drillRunner{bin: drill, kubeconfig: c.Kubeconfig}
	state := t.TempDir()
	cmd, out := d.cmd("run", "--state-dir", state, "--report-dir", t.TempDir(), "--run-id", "switch", plan)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { return strings.Contains(read(switchLog), "inject start") }, 2*time.Minute, 20*time.Millisecond,
		"the switch command did not start: %s", out)
	// What the journal says is in flight now, checked at the end (so that
	// on code without it the test first shows what happens to traffic).
	var inFlight []string
	var token string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		inFlight, token = nil, ""
		if rec := journaled(state, "switch"); rec != nil {
			for _, f := range rec.Faults {
				for _, a := range f.Actions {
					inFlight = append(inFlight, fmt.Sprintf("%s %s pgid>0=%t", f.ID, a.Kind, a.PGID > 0))
					token = a.Token
				}
			}
		}
		if len(inFlight) == 1 && strings.HasSuffix(inFlight[0], "true") {
			break
		}
	}
	dep, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *dep.Spec.Replicas, "traffic moves once the region is down")

	killed := killDashNine(t, cmd)
	orphans := processesRunning(script)
	require.NotEmpty(t, orphans, "the switch's child outlives drill (a parent-death signal reaches only the command itself)")
	require.Equal(t, "us-east\n", read(traffic), "killed before the switch moved traffic")

	cl, cout := d.cmd("cleanup", "--state-dir", state)
	require.Equal(t, 0, exitCode(t, cl, cout), cout.String())
	cleaned := time.Now()
	t.Logf("drill cleanup:\n%s", cout)
	t.Logf("measure: drill cleanup done %s after the kill; %d process(es) of the switch command were running", cleaned.Sub(killed).Round(time.Millisecond), len(orphans))
	require.Contains(t, cout.String(), "reverted")
	require.Equal(t, "us-east\n", read(traffic), "cleanup moved traffic back")

	// The orphaned inject would write us-west 4 s after it started; the
	// switch must still point at us-east 10 s after cleanup.
	time.Sleep(time.Until(cleaned.Add(10 * time.Second)))
	require.Equal(t, "us-east\n", read(traffic), "10 s after cleanup the switch is still reverted; switch log:\n%s", read(switchLog))
	require.NotContains(t, read(switchLog), "inject wrote", "the orphaned inject never finished")
	require.Contains(t, read(switchLog), "revert wrote us-east")
	require.Empty(t, processesRunning(script), "no process of the dead run's switch command is left")

	require.Equal(t, []string{"cutover command pgid>0=true"}, inFlight,
		"the journal recorded the platform's switch command, with its process group, while it ran")
	require.Contains(t, cout.String(), "killed runbook command", "cleanup says it stopped the orphaned command")
	require.Empty(t, processesWithEnv("FIREDRILL_ACTION="+token))
	dep, err = c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(2), *dep.Spec.Replicas, "the region is restored")
	require.NotContains(t, dep.Annotations, kube.AnnotationRunID)
	rec := journaled(state, "switch")
	require.NotNil(t, rec.Finished, "cleanup closed the run")
	require.Empty(t, rec.InFlight())
	c.WaitReady(ctx, t, ns, "recommender-us-east")
}

// TestCrashOnAnotherClusterThenCleanup is scenario 2 of issue 17: a store
// outage run with --context west is killed. A cleanup (and a run) against
// the current context, east, with the same state directory must neither
// touch west nor write the run off: it lists the fault with the command
// that reverts it and exits 1. drill cleanup --context west restores it.
func TestCrashOnAnotherClusterThenCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	cs := framework.StartMany(ctx, t, framework.Options{PodStartDelay: podStartDelay}, "east", "west")
	for name, c := range cs {
		c.AddNodes(ctx, t, framework.NodeSpec{Name: name + "-1"})
		c.CreateNamespace(ctx, t, ns)
		c.DeployModelStore(ctx, t, ns)
		c.WaitReady(ctx, t, ns, framework.ModelStoreName)
	}
	east, west := cs["east"], cs["west"]
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, framework.WriteKubeconfig(kubeconfig, cs)) // current context: east
	header := `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: kubernetes, namespace: ` + ns + `}
  system:
    endpoint: ` + strconv.Quote(okEndpoint(t)) + `
    modelStore: {workload: {kind: Deployment, name: model-store}}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  steps:
    - {name: baseline, wait: 1s}
`
	outage := writePlan(t, fmt.Sprintf(header, "kube-west-store")+`    - name: store
      fault:
        modelStoreOutage: {mode: unavailable}
        duration: 5m
`)
	store := func(c *framework.Cluster) (int32, string) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, framework.ModelStoreName, metav1.GetOptions{})
		require.NoError(t, err)
		return *d.Spec.Replicas, d.Annotations[kube.AnnotationRunID]
	}
	d := drillRunner{bin: drill, kubeconfig: kubeconfig}
	state := t.TempDir()
	cmd, out := d.cmd("run", "--context", "west", "--state-dir", state, "--report-dir", t.TempDir(), "--run-id", "west-outage", outage)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { r, run := store(west); return r == 0 && run == "west-outage" }, 2*time.Minute, 50*time.Millisecond,
		"the west store was not scaled to zero: %s", out)
	killDashNine(t, cmd)
	// Its spec's generation: the controllers update its status meanwhile.
	westGeneration := func() int64 {
		dep, err := west.Clientset.AppsV1().Deployments(ns).Get(ctx, framework.ModelStoreName, metav1.GetOptions{})
		require.NoError(t, err)
		return dep.Generation
	}
	before := westGeneration()

	hint := "revert it with: drill cleanup --context west"
	t.Run("cleanup against the current context leaves west's fault and says how to revert it", func(t *testing.T) {
		cl, cout := d.cmd("cleanup", "--state-dir", state)
		require.Equal(t, 1, exitCode(t, cl, cout), "a fault of another cluster is still active: %s", cout)
		t.Logf("drill cleanup (context east):\n%s", cout)
		require.Contains(t, cout.String(), "run west-outage, step store")
		require.Contains(t, cout.String(), "NOT reverted here")
		require.Contains(t, cout.String(), hint)
		require.NotContains(t, cout.String(), ": reverted")

		js, jout := d.cmd("cleanup", "--state-dir", state, "-o", "json")
		require.Equal(t, 1, exitCode(t, js, jout), jout.String())
		var res cleanup.Result
		require.NoError(t, json.NewDecoder(strings.NewReader(jout.String())).Decode(&res), jout.String())
		require.Len(t, res.Leftovers, 1)
		require.Equal(t, cleanup.StateElsewhere, res.Leftovers[0].State)
		require.Contains(t, res.Leftovers[0].Hint, hint)
	})

	t.Run("a run against the current context lists it and goes on", func(t *testing.T) {
		wait := writePlan(t, fmt.Sprintf(header, "kube-east-wait"))
		r, rout := d.cmd("run", "--state-dir", state, "--report-dir", t.TempDir(), wait)
		require.Equal(t, 0, exitCode(t, r, rout), rout.String())
		require.Contains(t, rout.String(), "cleanup: run west-outage, step store")
		require.Contains(t, rout.String(), hint)
	})

	r, run := store(west)
	require.Equal(t, int32(0), r, "west is untouched")
	require.Equal(t, "west-outage", run)
	require.Equal(t, before, westGeneration(), "its spec not even written to")
	r, run = store(east)
	require.Equal(t, int32(1), r, "east's store is not the one the run scaled")
	require.Empty(t, run)
	rec := journaled(state, "west-outage")
	require.Nil(t, rec.Finished, "the run is not written off")
	require.Len(t, rec.Unfinished(), 1)

	cl, cout := d.cmd("cleanup", "--context", "west", "--state-dir", state)
	require.Equal(t, 0, exitCode(t, cl, cout), cout.String())
	require.Contains(t, cout.String(), "run west-outage, step store (modelStoreOutage on store/Deployment/recsys/model-store): reverted")
	r, run = store(west)
	require.Equal(t, int32(1), r, "cleanup --context west restores the west store")
	require.Empty(t, run)
	require.NotNil(t, journaled(state, "west-outage").Finished)
	west.WaitReady(ctx, t, ns, framework.ModelStoreName)
}

// TestCrashWithoutJournalThenCleanupFromCluster is scenario 3 of issue 17:
// the machine that ran a drill is lost with its journal. A run's heartbeat
// on the cluster tells a live run from a dead one: drill run refuses
// targets a live run holds, and names it; drill cleanup --from-cluster
// reverts everything a dead run left, once its heartbeat is older than the
// grace period, with no journal, and leaves a live run's marks alone.
func TestCrashWithoutJournalThenCleanupFromCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", GPUs: 4},
	)
	const other = "search" // the live run's namespace
	c.CreateNamespace(ctx, t, ns)
	c.CreateNamespace(ctx, t, other)
	c.DeployRecommender(ctx, t, ns, "us-east", 2)
	c.DeployRecommender(ctx, t, ns, "us-west", 2)
	c.DeployModelStore(ctx, t, other)
	for _, w := range []struct{ ns, name string }{{ns, "recommender-us-east"}, {ns, "recommender-us-west"}, {other, framework.ModelStoreName}} {
		c.WaitReady(ctx, t, w.ns, w.name)
	}
	_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "recommender", "region": "us-east"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(framework.RecommenderPort)}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	endpoint := okEndpoint(t)
	plan := func(name, namespace, system, fault string) string {
		return writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    %s
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  steps:
    - {name: baseline, wait: 1s}
    - name: %s
`, name, namespace, endpoint, system, fault))
	}
	storeOutage := func(name string) string {
		return plan(name, other, "modelStore: {workload: {kind: Deployment, name: model-store}}", `store
      fault:
        modelStoreOutage: {mode: unavailable}
        duration: 10m`)
	}
	cutover := plan("kube-victim", ns, "workloads: [{kind: Deployment, name: recommender-us-east}, {kind: Deployment, name: recommender-us-west}]", `cutover
      fault:
        regionCutover: {from: us-east, to: us-west, method: drain, traffic: manual, switch: {service: {name: frontdoor}}}
        duration: 10m`)
	d := drillRunner{bin: drill, kubeconfig: c.Kubeconfig}
	storeOf := func() (int32, map[string]string) {
		dep, err := c.Clientset.AppsV1().Deployments(other).Get(ctx, framework.ModelStoreName, metav1.GetOptions{})
		require.NoError(t, err)
		return *dep.Spec.Replicas, dep.Annotations
	}
	frontdoor := func() *corev1.Service {
		s, err := c.Clientset.CoreV1().Services(ns).Get(ctx, "frontdoor", metav1.GetOptions{})
		require.NoError(t, err)
		return s
	}
	eastNodes := func() []corev1.Node {
		var out []corev1.Node
		for _, n := range []string{"gpu-east-1", "gpu-east-2"} {
			node, err := c.Clientset.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			require.NoError(t, err)
			out = append(out, *node)
		}
		return out
	}
	heartbeat := func(namespace, run string) *coordinationv1.Lease {
		l, err := c.Clientset.CoordinationV1().Leases(namespace).Get(ctx, "firedrill-run-"+run, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		require.NoError(t, err)
		return l
	}

	// The live run: a store outage in namespace search that holds for 10
	// minutes.
	live, liveOut := d.cmd("run", "--state-dir", t.TempDir(), "--report-dir", t.TempDir(), "--run-id", "live-store", storeOutage("kube-live-store"))
	require.NoError(t, live.Start())
	t.Cleanup(func() { _ = live.Process.Kill() })
	require.Eventually(t, func() bool { r, ann := storeOf(); return r == 0 && ann[kube.AnnotationRunID] == "live-store" }, 2*time.Minute, 50*time.Millisecond,
		"the live run's store outage did not start: %s", liveOut)
	t.Run("the live run's marks name its heartbeat, which it renews", func(t *testing.T) {
		_, ann := storeOf()
		require.Equal(t, other+"/firedrill-run-live-store", ann["firedrill.dev/heartbeat"])
		l := heartbeat(other, "live-store")
		require.NotNil(t, l, "the heartbeat exists once the run has marked anything")
		require.Equal(t, "live-store", *l.Spec.HolderIdentity)
		require.Equal(t, int32(kube.DefaultHeartbeatGrace/time.Second), *l.Spec.LeaseDurationSeconds)
		first := l.Spec.RenewTime.Time
		require.Eventually(t, func() bool { return heartbeat(other, "live-store").Spec.RenewTime.After(first) }, 3*kube.DefaultHeartbeatInterval,
			100*time.Millisecond, "the heartbeat is renewed")
	})

	// The victim: a drain cutover with a Service switch in recsys, killed
	// with SIGKILL; its machine's state directory is lost with it.
	victimState := t.TempDir()
	victim, victimOut := d.cmd("run", "--state-dir", victimState, "--report-dir", t.TempDir(), "--run-id", "victim", cutover)
	require.NoError(t, victim.Start())
	t.Cleanup(func() { _ = victim.Process.Kill() })
	require.Eventually(t, func() bool {
		if frontdoor().Spec.Selector["region"] != "us-west" {
			return false
		}
		for _, n := range eastNodes() {
			if !n.Spec.Unschedulable || n.Annotations[kube.AnnotationRunID] != "victim" {
				return false
			}
		}
		return true
	}, 2*time.Minute, 50*time.Millisecond, "the cutover did not take us-east down and switch traffic: %s", victimOut)
	killed := killDashNine(t, victim)
	require.NoError(t, os.RemoveAll(victimState))

	t.Run("a run on targets a live run holds is refused, naming the run", func(t *testing.T) {
		second, out := d.cmd("run", "--state-dir", t.TempDir(), "--report-dir", t.TempDir(), "--run-id", "second", storeOutage("kube-second-store"))
		require.Equal(t, 2, exitCode(t, second, out), out.String())
		t.Logf("drill run on the live run's store:\n%s", out)
		require.Contains(t, out.String(), "run live-store is live on this cluster (heartbeat Lease search/firedrill-run-live-store renewed")
		require.Contains(t, out.String(), "holds workload/Deployment/search/model-store (step store)")
		_, ann := storeOf()
		require.Equal(t, "live-store", ann[kube.AnnotationRunID], "nothing was touched")
		require.Nil(t, heartbeat(other, "second"), "the refused run never started a heartbeat")
	})

	dryRun := func(t *testing.T) map[string]cleanup.Leftover {
		t.Helper()
		cl, out := d.cmd("cleanup", "--from-cluster", "--dry-run", "-o", "json")
		require.Equal(t, 0, exitCode(t, cl, out), out.String())
		var res cleanup.Result
		require.NoError(t, json.NewDecoder(strings.NewReader(out.String())).Decode(&res), out.String())
		require.True(t, res.DryRun)
		byRun := map[string]cleanup.Leftover{}
		for _, l := range res.Leftovers {
			byRun[l.Run] = l
		}
		return byRun
	}
	t.Run("within the grace period the killed run is still taken for live", func(t *testing.T) {
		byRun := dryRun(t)
		require.Less(t, time.Since(killed), kube.MinHeartbeatGrace, "the dry run came soon enough after the kill for this check")
		require.Equal(t, cleanup.StateLive, byRun["victim"].State, "%+v", byRun["victim"])
		require.Equal(t, cleanup.StateLive, byRun["live-store"].State)
	})

	var stale time.Duration
	t.Run("once its heartbeat is older than the grace, a dry run says it would revert it and reverts nothing", func(t *testing.T) {
		var byRun map[string]cleanup.Leftover
		require.Eventually(t, func() bool {
			byRun = dryRun(t)
			return byRun["victim"].State == cleanup.StateWouldBeReverted
		}, time.Minute, 500*time.Millisecond)
		stale = time.Since(killed)
		t.Logf("measure: the killed run was taken for dead %s after the kill (renewed every %s, grace %s)",
			stale.Round(100*time.Millisecond), kube.DefaultHeartbeatInterval, kube.DefaultHeartbeatGrace)
		require.GreaterOrEqual(t, stale, kube.DefaultHeartbeatGrace-kube.DefaultHeartbeatInterval, "not before the grace period after its last renewal")
		require.Contains(t, byRun["victim"].Heartbeat, "heartbeat Lease recsys/firedrill-run-victim last renewed")
		var targets []string
		for _, tg := range byRun["victim"].Targets {
			targets = append(targets, tg.String())
		}
		require.ElementsMatch(t, []string{"node/gpu-east-1", "node/gpu-east-2", "service/recsys/frontdoor"}, targets)
		require.Equal(t, cleanup.StateLive, byRun["live-store"].State, "the live run renews its heartbeat")
		require.Equal(t, "us-west", frontdoor().Spec.Selector["region"], "a dry run touches nothing")
		require.True(t, eastNodes()[0].Spec.Unschedulable)
	})

	t.Run("a run on targets a dead run holds is refused, and told how to revert them", func(t *testing.T) {
		again, out := d.cmd("run", "--state-dir", t.TempDir(), "--report-dir", t.TempDir(), cutover)
		require.Equal(t, 2, exitCode(t, again, out), out.String())
		t.Logf("drill run on the dead run's region:\n%s", out)
		require.Contains(t, out.String(), "run victim left faults on this cluster and is not running (heartbeat Lease recsys/firedrill-run-victim last renewed")
		require.Contains(t, out.String(), "drill cleanup --from-cluster")
	})

	t.Run("drill cleanup --from-cluster restores everything the dead run left and leaves the live run alone", func(t *testing.T) {
		cl, out := d.cmd("cleanup", "--from-cluster")
		require.Equal(t, 0, exitCode(t, cl, out), out.String())
		t.Logf("drill cleanup --from-cluster:\n%s", out)
		require.Contains(t, out.String(), "run victim, step cutover (")
		require.Contains(t, out.String(), "): reverted; heartbeat Lease recsys/firedrill-run-victim last renewed")
		require.Contains(t, out.String(), "run live-store, step store (workload/Deployment/search/model-store): left alone, the run is live")
		for _, n := range eastNodes() {
			require.False(t, n.Spec.Unschedulable, "node %s is uncordoned", n.Name)
			require.NotContains(t, n.Annotations, kube.AnnotationRunID)
		}
		svc := frontdoor()
		require.Equal(t, map[string]string{"app": "recommender", "region": "us-east"}, svc.Spec.Selector, "traffic is switched back")
		require.NotContains(t, svc.Annotations, kube.AnnotationRunID)
		require.Nil(t, heartbeat(ns, "victim"), "the dead run's heartbeat is deleted with its last mark")
		r, ann := storeOf()
		require.Equal(t, int32(0), r, "the live run's outage holds")
		require.Equal(t, "live-store", ann[kube.AnnotationRunID])
		require.NotNil(t, heartbeat(other, "live-store"))
		c.WaitReady(ctx, t, ns, "recommender-us-east")
	})

	// The live run ends on Ctrl-C: it reverts its fault and deletes its
	// heartbeat.
	require.NoError(t, live.Process.Signal(os.Interrupt))
	_ = live.Wait()
	r, ann := storeOf()
	require.Equal(t, int32(1), r, "the live run reverted its own fault: %s", liveOut)
	require.NotContains(t, ann, kube.AnnotationRunID)
	require.Nil(t, heartbeat(other, "live-store"), "a finished run's heartbeat is deleted")
	leases, err := c.Clientset.CoordinationV1().Leases("").List(ctx, metav1.ListOptions{LabelSelector: kube.LabelRunID})
	require.NoError(t, err)
	require.Empty(t, leases.Items, "no heartbeat is left behind")
	c.WaitReady(ctx, t, other, framework.ModelStoreName)
}
