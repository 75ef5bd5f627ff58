//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// chaosBed is a control plane with Chaos Mesh's CRDs, the stand-in for
// its controller, recommenders in two regions and a model store.
type chaosBed struct {
	c       *framework.Cluster
	standIn *framework.ChaosMeshStandIn
	// cl reads Chaos Mesh objects (the cluster's client knows only
	// client-go's and firedrill's types).
	cl     client.Client
	drill  string
	header string
}

// run starts drill with args against the cluster.
func (b *chaosBed) cmd(args ...string) (*exec.Cmd, *syncbuf.Buffer) {
	cmd := exec.Command(b.drill, append(args, "--kubeconfig", b.c.Kubeconfig)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// plan writes the plan header with steps.
func (b *chaosBed) plan(t *testing.T, name, steps string) string {
	t.Helper()
	return writePlan(t, fmt.Sprintf(b.header, name)+steps)
}

// runToEnd runs a plan to its end and returns its exit code, report and
// output.
func (b *chaosBed) runToEnd(t *testing.T, name, steps string) (int, *report.Report, string) {
	t.Helper()
	reports := t.TempDir()
	cmd, out := b.cmd("run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "r", b.plan(t, name, steps))
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, out.String())
	}
	data, err := os.ReadFile(filepath.Join(reports, name, "r", "report.json"))
	if err != nil {
		return code, nil, out.String()
	}
	rep, err := report.Read(data)
	require.NoError(t, err)
	return code, rep, out.String()
}

// snapshot polls until get finds the object, in the background, and
// returns a function that waits for the first copy seen.
func snapshot[T any](ctx context.Context, get func(context.Context) (T, bool)) func(t *testing.T) T {
	ch := make(chan T, 1)
	go func() {
		for ctx.Err() == nil {
			if v, ok := get(ctx); ok {
				ch <- v
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func(t *testing.T) T {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-time.After(2 * time.Minute):
			t.Fatal("the object never appeared")
		}
		var zero T
		return zero
	}
}

// getChaos reads a Chaos Mesh object; ok is false while it does not exist.
func getChaos[T client.Object](b *chaosBed, name string, obj T) func(context.Context) (T, bool) {
	return func(ctx context.Context) (T, bool) {
		err := b.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		return obj, err == nil
	}
}

// requireGone checks that a Chaos Mesh object no longer exists.
func (b *chaosBed) requireGone(ctx context.Context, t *testing.T, obj client.Object, name string) {
	t.Helper()
	err := b.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
	require.True(t, apierrors.IsNotFound(err), "%T %s still exists (err %v)", obj, name, err)
}

func requireMarked(t *testing.T, obj metav1.Object, runID, step string) {
	t.Helper()
	require.Equal(t, runID, obj.GetLabels()[kube.LabelRunID], "%s: run label", obj.GetName())
	require.Equal(t, step, obj.GetLabels()[kube.LabelFault], "%s: fault label", obj.GetName())
	require.Equal(t, runID, obj.GetAnnotations()[kube.AnnotationRunID], "%s: run annotation", obj.GetName())
	require.Equal(t, step, obj.GetAnnotations()[kube.AnnotationFault], "%s: fault annotation", obj.GetName())
}

func hasInjected(conds []chaosv1alpha1.ChaosCondition) bool {
	return slices.ContainsFunc(conds, func(c chaosv1alpha1.ChaosCondition) bool {
		return c.Type == chaosv1alpha1.ConditionAllInjected && c.Status == "True"
	})
}

// TestChaosMeshThroughDrill drives Chaos Mesh faults and the model store
// outage methods through the real drill binary against a control plane
// with Chaos Mesh's CRDs. No Chaos Mesh controller can run here (it needs a
// container runtime): framework.ChaosMeshStandIn writes the status Chaos
// Mesh's controller would, and nothing more, so these tests check what
// firedrill does with the objects, not that packets are delayed.
func TestChaosMeshThroughDrill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
	)
	start := time.Now()
	c.InstallChaosMeshCRDs(ctx, t)
	t.Logf("measure: Chaos Mesh CRDs (%d kinds) generated or found, applied and established in %s", len(framework.ChaosMeshKinds), time.Since(start).Round(time.Millisecond))
	standIn := c.StartChaosMeshStandIn(ctx, t)
	t.Cleanup(func() { require.NoError(t, standIn.Err(), "the Chaos Mesh stand-in met an error") })
	c.CreateNamespace(ctx, t, ns)
	c.DeployRecommender(ctx, t, ns, "us-east", 2)
	c.DeployRecommender(ctx, t, ns, "us-west", 1)
	c.DeployModelStore(ctx, t, ns)
	for _, d := range []string{"recommender-us-east", "recommender-us-west", "model-store"} {
		c.WaitReady(ctx, t, ns, d)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		pods, err := c.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, p := range pods.Items {
			var conds []string
			for _, cd := range p.Status.Conditions {
				conds = append(conds, string(cd.Type)+"="+string(cd.Status))
			}
			t.Logf("pod %s node=%s phase=%s deleting=%v conditions=%v", p.Name, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil, conds)
		}
	})
	scheme, err := kube.NewScheme()
	require.NoError(t, err)
	cl, err := client.New(c.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	b := &chaosBed{c: c, standIn: standIn, cl: cl, drill: drill, header: fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %%s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [{kind: Deployment, name: recommender-us-east}, {kind: Deployment, name: recommender-us-west}]
    modelStore: {workload: {kind: Deployment, name: model-store}}
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  safety: {maxPodsPercent: 50, maxNodes: 1, namespaces: [%s]}
  steps:
    - {name: baseline, wait: 1s}
`, ns, okEndpoint(t), ns)}

	t.Run("PodChaos and NetworkChaos are created from the plan, waited for and deleted on revert", func(t *testing.T) {
		podChaos := snapshot(ctx, getChaos(b, "firedrill-r-pods", &chaosv1alpha1.PodChaos{}))
		netChaos := snapshot(ctx, getChaos(b, "firedrill-r-net", &chaosv1alpha1.NetworkChaos{}))
		code, rep, out := b.runToEnd(t, "kube-chaos-objects", `    - name: pods
      fault:
        chaosMesh: {kind: PodChaos, spec: {action: pod-failure, mode: one, duration: 30s, selector: {labelSelectors: {app: recommender, region: us-west}}}}
        duration: 2s
    - name: net
      fault:
        chaosMesh:
          kind: NetworkChaos
          spec: {action: delay, mode: all, direction: to, delay: {latency: 150ms, jitter: 10ms}, selector: {namespaces: [`+ns+`], labelSelectors: {app: model-store}}}
        duration: 2s
`)
		require.Equal(t, 0, code, out)

		pc := podChaos(t)
		requireMarked(t, pc, "r", "pods")
		require.Equal(t, chaosv1alpha1.PodFailureAction, pc.Spec.Action)
		require.Equal(t, chaosv1alpha1.OneMode, pc.Spec.Mode)
		require.Equal(t, map[string]string{"app": "recommender", "region": "us-west"}, pc.Spec.Selector.LabelSelectors)
		require.Equal(t, "30s", *pc.Spec.Duration)
		nc := netChaos(t)
		requireMarked(t, nc, "r", "net")
		require.Equal(t, chaosv1alpha1.DelayAction, nc.Spec.Action)
		require.Equal(t, "150ms", nc.Spec.Delay.Latency)
		require.Equal(t, "10ms", nc.Spec.Delay.Jitter)
		require.Equal(t, []string{ns}, nc.Spec.Selector.Namespaces)

		require.Contains(t, standIn.Injected(), "PodChaos/"+ns+"/firedrill-r-pods")
		require.Contains(t, standIn.Injected(), "NetworkChaos/"+ns+"/firedrill-r-net")
		require.Contains(t, standIn.Recovered(), "PodChaos/"+ns+"/firedrill-r-pods", "firedrill deleted it and waited for the finalizer")
		require.Contains(t, standIn.Recovered(), "NetworkChaos/"+ns+"/firedrill-r-net")
		b.requireGone(ctx, t, &chaosv1alpha1.PodChaos{}, "firedrill-r-pods")
		b.requireGone(ctx, t, &chaosv1alpha1.NetworkChaos{}, "firedrill-r-net")
		for i, name := range []string{"pods", "net"} {
			f := rep.Steps[i+1].Fault
			require.NotNil(t, f.Reverted, "%s was reverted: %s", name, out)
			require.True(t, slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "reported AllInjected") }),
				"the report says how long Chaos Mesh took to inject %s: %v", name, f.Notes)
			t.Logf("measure: %s notes %q", name, f.Notes)
		}
	})

	t.Run("an object never reported injected fails the step with a timeout and is removed", func(t *testing.T) {
		standIn.SetInjecting(false)
		defer standIn.SetInjecting(true)
		seen := snapshot(ctx, getChaos(b, "firedrill-r-stuck", &chaosv1alpha1.PodChaos{}))
		start := time.Now()
		code, _, out := b.runToEnd(t, "kube-chaos-stuck", `    - name: stuck
      fault:
        chaosMesh: {kind: PodChaos, spec: {action: pod-failure, mode: one, selector: {labelSelectors: {app: recommender}}}}
        duration: 2s
`)
		t.Logf("measure: drill run with a chaos object never injected ended after %s (exit %d)", time.Since(start).Round(time.Millisecond), code)
		require.NotEqual(t, 0, code, out)
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "not reported injected") {
				t.Logf("drill says: %s", strings.TrimSpace(line))
			}
		}
		require.Contains(t, out, "PodChaos/"+ns+"/firedrill-r-stuck was not reported injected within 1m0s (conditions Selected=True, AllInjected=False, AllRecovered=False, Paused=False)")
		require.Contains(t, out, "is the Chaos Mesh controller running")
		require.False(t, hasInjected(seen(t).Status.Conditions))
		b.requireGone(ctx, t, &chaosv1alpha1.PodChaos{}, "firedrill-r-stuck")
	})

	t.Run("kill -9 of drill while a chaos object is active, then drill cleanup deletes it", func(t *testing.T) {
		state := t.TempDir()
		cmd, out := b.cmd("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "crash", b.plan(t, "kube-chaos-crash", `    - name: kill
      fault:
        chaosMesh: {kind: NetworkChaos, spec: {action: loss, mode: all, loss: {loss: "100"}, selector: {labelSelectors: {app: model-store}}}}
        duration: 5m
`))
		require.NoError(t, cmd.Start())
		key := "NetworkChaos/" + ns + "/firedrill-crash-kill"
		require.Eventually(t, func() bool { return slices.Contains(standIn.Injected(), key) }, 2*time.Minute, 50*time.Millisecond, "never injected: %s", out)
		time.Sleep(500 * time.Millisecond) // let drill see AllInjected and journal it
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		var nc chaosv1alpha1.NetworkChaos
		require.NoError(t, b.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "firedrill-crash-kill"}, &nc), "kill -9 leaves the object")
		require.Nil(t, nc.DeletionTimestamp)

		cleanup, cout := b.cmd("cleanup", "--state-dir", state)
		require.NoError(t, cleanup.Run(), cout.String())
		require.Contains(t, cout.String(), "reverted")
		b.requireGone(ctx, t, &chaosv1alpha1.NetworkChaos{}, "firedrill-crash-kill")
		require.Contains(t, standIn.Recovered(), key)
	})

	netpols := func(ctx context.Context) ([]networkingv1.NetworkPolicy, error) {
		l, err := c.Clientset.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}

	// waitAllReady separates a cluster still recovering from an earlier
	// scenario from a failure of the next one.
	waitAllReady := func(t *testing.T) {
		t.Helper()
		for _, d := range []string{"recommender-us-east", "recommender-us-west", "model-store"} {
			c.WaitReady(ctx, t, ns, d)
		}
	}

	t.Run("a networkPolicy store outage in one region creates a policy the API server accepts and deletes it on revert", func(t *testing.T) {
		waitAllReady(t)
		seen := snapshot(ctx, func(ctx context.Context) ([]networkingv1.NetworkPolicy, bool) {
			nps, err := netpols(ctx)
			return nps, err == nil && len(nps) > 0
		})
		code, rep, out := b.runToEnd(t, "kube-store-netpol", `    - name: store
      fault:
        modelStoreOutage: {mode: unavailable, method: networkPolicy, region: us-east, restartReplicas: 1}
        duration: 3s
`)
		require.Equal(t, 0, code, out)
		nps := seen(t)
		require.Len(t, nps, 1, "only the us-east recommenders lose the store")
		np := nps[0]
		require.Equal(t, "firedrill-r-store-recommender-us-east", np.Name)
		requireMarked(t, &np, "r", "store")
		require.Equal(t, "Deployment/"+ns+"/model-store", np.Annotations[kube.AnnotationStore])
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, *d.Spec.Selector, np.Spec.PodSelector)
		require.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes)
		require.Len(t, np.Spec.Egress, 2)
		last := np.Spec.Egress[0].To[len(np.Spec.Egress[0].To)-2]
		require.Equal(t, "0.0.0.0/0", last.IPBlock.CIDR)
		require.Len(t, last.IPBlock.Except, 1, "the store pod's IP is excepted")
		require.True(t, strings.HasPrefix(last.IPBlock.Except[0], "127.42."), last.IPBlock.Except)

		left, err := netpols(ctx)
		require.NoError(t, err)
		require.Empty(t, left, "revert deletes the policy")
		store, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "model-store", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(1), *store.Spec.Replicas, "the store itself was never scaled")
		f := rep.Steps[1].Fault
		require.True(t, slices.ContainsFunc(f.Notes, func(n string) bool { return strings.Contains(n, "restarted "+ns+"/recommender-us-east-") }),
			"restartReplicas restarted a us-east pod: %v", f.Notes)
	})

	t.Run("kill -9 during a networkPolicy outage, then the next drill run deletes the policy", func(t *testing.T) {
		state := t.TempDir()
		cmd, out := b.cmd("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "crash", b.plan(t, "kube-store-netpol-crash", `    - name: store
      fault:
        modelStoreOutage: {method: networkPolicy}
        duration: 5m
`))
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool {
			nps, err := netpols(ctx)
			return err == nil && len(nps) == 2
		}, 2*time.Minute, 50*time.Millisecond, "no policies: %s", out)
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		nps, err := netpols(ctx)
		require.NoError(t, err)
		require.Len(t, nps, 2, "kill -9 leaves both policies")

		next, nout := b.cmd("run", "--state-dir", state, "--archive", t.TempDir(), "--run-id", "next", b.plan(t, "kube-next", ""))
		require.NoError(t, next.Run(), nout.String())
		nps, err = netpols(ctx)
		require.NoError(t, err)
		require.Empty(t, nps, "the next drill run deleted the dead run's policies: %s", nout.String())
	})

	t.Run("chaosMesh store outages: slow delays and hang drops the store's packets, in one region", func(t *testing.T) {
		waitAllReady(t)
		slow := snapshot(ctx, getChaos(b, "firedrill-r-slow", &chaosv1alpha1.NetworkChaos{}))
		hang := snapshot(ctx, getChaos(b, "firedrill-r-hang", &chaosv1alpha1.NetworkChaos{}))
		// The scheduler puts the store in either region: the slow outage
		// names the one it is in, or its NetworkChaos selects no pod.
		stores, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + framework.ModelStoreName})
		require.NoError(t, err)
		require.Len(t, stores.Items, 1)
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, stores.Items[0].Spec.NodeName, metav1.GetOptions{})
		require.NoError(t, err)
		region := node.Labels["topology.kubernetes.io/region"]
		require.NotEmpty(t, region)
		code, rep, out := b.runToEnd(t, "kube-store-chaos", fmt.Sprintf(`    - name: slow
      fault:
        modelStoreOutage: {mode: slow, latency: 300ms, region: %s}
        duration: 2s
    - name: hang
      fault:
        modelStoreOutage: {mode: hang, restartReplicas: 1}
        duration: 2s
`, region))
		require.Equal(t, 0, code, out)
		s := slow(t)
		requireMarked(t, s, "r", "slow")
		require.Equal(t, chaosv1alpha1.DelayAction, s.Spec.Action)
		require.Equal(t, "300ms", s.Spec.Delay.Latency)
		require.Equal(t, chaosv1alpha1.AllMode, s.Spec.Mode)
		require.Equal(t, chaosv1alpha1.To, s.Spec.Direction)
		require.Equal(t, []string{ns}, s.Spec.Selector.Namespaces)
		require.Equal(t, map[string]string{"app": framework.ModelStoreName}, s.Spec.Selector.LabelSelectors)
		require.Equal(t, map[string]string{"topology.kubernetes.io/region": region}, s.Spec.Selector.NodeSelectors)
		h := hang(t)
		requireMarked(t, h, "r", "hang")
		require.Equal(t, chaosv1alpha1.LossAction, h.Spec.Action)
		require.Equal(t, "100", h.Spec.Loss.Loss)
		require.Empty(t, h.Spec.Selector.NodeSelectors)
		b.requireGone(ctx, t, &chaosv1alpha1.NetworkChaos{}, "firedrill-r-slow")
		b.requireGone(ctx, t, &chaosv1alpha1.NetworkChaos{}, "firedrill-r-hang")
		require.Contains(t, standIn.Recovered(), "NetworkChaos/"+ns+"/firedrill-r-slow")
		require.NotNil(t, rep.Steps[2].Fault.Reverted)
		require.True(t, slices.ContainsFunc(rep.Steps[2].Fault.Notes, func(n string) bool { return strings.Contains(n, "restarted ") }),
			"restartReplicas works with method chaosMesh: %v", rep.Steps[2].Fault.Notes)
	})
}
