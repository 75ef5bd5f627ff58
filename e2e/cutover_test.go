//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// TestCutoverTrafficSwitches drives region cutovers through the real drill
// binary whose traffic switch rewrites a Service selector or an HTTPRoute's
// backend weights, on a real API server: the object is switched while the
// region is down and restored after, a drill killed with SIGKILL after the
// switch is undone by drill cleanup, and an HTTPRoute switch without the
// Gateway API CRDs fails before the region is touched.
func TestCutoverTrafficSwitches(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
	)
	c.CreateNamespace(ctx, t, ns)
	c.DeployRecommender(ctx, t, ns, "us-east", 2)
	c.DeployRecommender(ctx, t, ns, "us-west", 2)
	for _, d := range []string{"recommender-us-east", "recommender-us-west"} {
		c.WaitReady(ctx, t, ns, d)
	}
	frontdoor := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "recommender", "region": "us-east"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(framework.RecommenderPort)}},
		},
	}
	_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, frontdoor, metav1.CreateOptions{})
	require.NoError(t, err)
	d := drillRunner{bin: drill, kubeconfig: c.Kubeconfig}
	plan := func(t *testing.T, name, sw, duration string) string {
		t.Helper()
		return writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
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
        regionCutover: {from: us-east, to: us-west, method: scaleToZero, traffic: manual, switch: %s}
        duration: %s
`, name, ns, okEndpoint(t), ns, sw, duration))
	}
	selector := func() (string, map[string]string) {
		s, err := c.Clientset.CoreV1().Services(ns).Get(ctx, "frontdoor", metav1.GetOptions{})
		require.NoError(t, err)
		return s.Spec.Selector["region"], s.Annotations
	}
	eastReplicas := func() int32 {
		dep, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
		require.NoError(t, err)
		return *dep.Spec.Replicas
	}
	// waitSwitched waits until the Service points at us-west, and checks
	// us-east is down by then.
	waitSwitched := func(t *testing.T, out *syncbuf.Buffer) time.Time {
		t.Helper()
		require.Eventually(t, func() bool {
			r, _ := selector()
			return r == "us-west"
		}, 2*time.Minute, 50*time.Millisecond, "the Service was not switched: %s", out)
		_, ann := selector()
		require.Equal(t, `{"region":"us-east"}`, ann[kube.AnnotationSelector], "the prior value is recorded on the Service")
		require.NotEmpty(t, ann[kube.AnnotationRunID])
		require.Equal(t, int32(0), eastReplicas(), "traffic moves once the region is down")
		return time.Now()
	}

	t.Run("a Service selector switch moves traffic during the fault and fails back", func(t *testing.T) {
		p := plan(t, "kube-cutover-service", "{service: {name: frontdoor}}", "4s")
		reports := t.TempDir()
		cmd, out := d.cmd("run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "r", p)
		start := time.Now()
		require.NoError(t, cmd.Start())
		switched := waitSwitched(t, out)
		require.NoError(t, cmd.Wait(), out.String())
		r, ann := selector()
		require.Equal(t, "us-east", r, "fail-back restores the selector")
		require.NotContains(t, ann, kube.AnnotationSelector)
		require.NotContains(t, ann, kube.AnnotationRunID)
		require.Equal(t, int32(2), eastReplicas())
		data, err := os.ReadFile(filepath.Join(reports, "kube-cutover-service", "r", "report.json"))
		require.NoError(t, err)
		rep, err := report.Read(data)
		require.NoError(t, err)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out.String())
		notes := strings.Join(f.Notes, "\n")
		require.Contains(t, notes, "traffic switched us-east→us-west by Service recsys/frontdoor selector region", notes)
		require.Contains(t, notes, "traffic failed back us-west→us-east by Service recsys/frontdoor selector region", notes)
		require.NotNil(t, f.Failover.CapacityRTO, out.String())
		t.Logf("measure: Service switch seen %s after drill start; capacity RTO %s", switched.Sub(start).Round(time.Millisecond), f.Failover.CapacityRTO.Duration)
		c.WaitReady(ctx, t, ns, "recommender-us-east")
	})

	t.Run("kill -9 of drill after the switch, then drill cleanup restores the selector", func(t *testing.T) {
		p := plan(t, "kube-cutover-crash", "{service: {name: frontdoor}}", "5m")
		state := t.TempDir()
		cmd, out := d.cmd("run", "--state-dir", state, "--archive", t.TempDir(), p)
		require.NoError(t, cmd.Start())
		waitSwitched(t, out)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		r, _ := selector()
		require.Equal(t, "us-west", r, "kill -9 leaves traffic switched")

		cleanup, cout := d.cmd("cleanup", "--state-dir", state)
		require.NoError(t, cleanup.Run(), cout.String())
		require.Contains(t, cout.String(), "reverted")
		r, ann := selector()
		require.Equal(t, "us-east", r, "drill cleanup restores the selector")
		require.NotContains(t, ann, kube.AnnotationRunID)
		require.Equal(t, int32(2), eastReplicas(), "and the region")
		c.WaitReady(ctx, t, ns, "recommender-us-east")
	})

	httpRoute := `{httpRoute: {name: frontdoor, backends: [{region: us-east, service: recommender-us-east}, {region: us-west, service: recommender-us-west}]}}`

	t.Run("an HTTPRoute switch without the Gateway API CRDs stops the drill before the region is touched", func(t *testing.T) {
		_, out := d.run(t, plan(t, "kube-cutover-nogw", httpRoute, "3s"), "kube-cutover-nogw", 2)
		require.Contains(t, out, "Gateway API CRDs")
		require.Contains(t, out, "HTTPRoute recsys/frontdoor")
		require.Equal(t, int32(2), eastReplicas(), "nothing was scaled down")
	})

	t.Run("an HTTPRoute switch moves the weight during the fault and restores it", func(t *testing.T) {
		c.InstallGatewayAPI(ctx, t)
		scheme := c.Scheme
		require.NoError(t, gatewayv1.Install(scheme))
		gc, err := client.New(c.Config, client.Options{Scheme: scheme})
		require.NoError(t, err)
		ref := func(svc string, weight int32) gatewayv1.HTTPBackendRef {
			return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(svc), Port: ptr.To(gatewayv1.PortNumber(80))},
				Weight:                 ptr.To(weight),
			}}
		}
		for _, region := range []string{"us-east", "us-west"} {
			svc := frontdoor.DeepCopy()
			svc.Name, svc.Spec.Selector = framework.RecommenderName(region), map[string]string{"app": "recommender", "region": region}
			_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		rt := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				BackendRefs: []gatewayv1.HTTPBackendRef{ref("recommender-us-east", 80), ref("recommender-us-west", 20)},
			}}},
		}
		require.NoError(t, gc.Create(ctx, rt))
		weights := func() []int32 {
			var r gatewayv1.HTTPRoute
			require.NoError(t, gc.Get(ctx, client.ObjectKeyFromObject(rt), &r))
			var out []int32
			for _, b := range r.Spec.Rules[0].BackendRefs {
				out = append(out, *b.Weight)
			}
			return out
		}

		p := plan(t, "kube-cutover-route", httpRoute, "4s")
		cmd, out := d.cmd("run", "--state-dir", t.TempDir(), "--archive", t.TempDir(), p)
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { w := weights(); return w[0] == 0 }, 2*time.Minute, 50*time.Millisecond, "the route was not switched: %s", out)
		require.Equal(t, []int32{0, 100}, weights(), "us-west takes us-east's weight")
		require.Equal(t, int32(0), eastReplicas())
		require.NoError(t, cmd.Wait(), out.String())
		require.Equal(t, []int32{80, 20}, weights(), "fail-back restores the weights")
		var r gatewayv1.HTTPRoute
		require.NoError(t, gc.Get(ctx, client.ObjectKeyFromObject(rt), &r))
		require.NotContains(t, r.Annotations, kube.AnnotationWeights)
		require.NotContains(t, r.Annotations, kube.AnnotationRunID)
	})
}

// TestTwoClusterCutover drills a system spread over two control planes,
// one per region, through one kubeconfig with a context each: a region
// cutover drains every node of cluster us-east (whose nodes carry no
// region label: the cluster is the region), switches traffic to cluster
// us-west through an exec switch, and fails back.
func TestTwoClusterCutover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	drill := buildDrill(t)
	begin := time.Now()
	cs := framework.StartMany(ctx, t, framework.Options{PodStartDelay: podStartDelay}, "east", "west")
	t.Logf("measure: two control planes started side by side in %s", time.Since(begin).Round(time.Millisecond))
	east, west := cs["east"], cs["west"]
	east.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-1", GPUs: 4},
		framework.NodeSpec{Name: "gpu-2", GPUs: 4},
	)
	west.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-1", Region: "us-west", GPUs: 4},
		framework.NodeSpec{Name: "gpu-2", Region: "us-west", GPUs: 4},
	)
	for _, c := range cs {
		c.CreateNamespace(ctx, t, ns)
	}
	// us-east's pods need no region node selector: every node of its
	// cluster is in us-east. No PDB: a lost region is lost capacity.
	dep := framework.RecommenderDeployment(ns, "us-east", 2)
	delete(dep.Spec.Template.Spec.NodeSelector, corev1.LabelTopologyRegion)
	_, err := east.Clientset.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	west.DeployRecommender(ctx, t, ns, "us-west", 2)
	east.WaitReady(ctx, t, ns, "recommender-us-east")
	west.WaitReady(ctx, t, ns, "recommender-us-west")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, framework.WriteKubeconfig(kubeconfig, cs))
	switchLog := filepath.Join(t.TempDir(), "switch.log")
	plan := writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: kube-two-clusters}
spec:
  target:
    platform: kubernetes
    namespace: %s
    clusters: [{region: us-east, context: east}, {region: us-west, context: west}]
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
          traffic: manual
          switch: {command: [sh, -c, 'echo "$FIREDRILL_PHASE $FIREDRILL_TRAFFIC_FROM $FIREDRILL_TRAFFIC_TO" >> %s']}
        # The hold runs from when the region went down (took effect); the
        # inject returns, and traffic switches, once its pods are gone,
        # after the test bed's 5 s grace period. A 5 s hold ended as the
        # switch ran, so the test could not see the region down.
        duration: 15s
`, ns, okEndpoint(t), ns, switchLog))
	switched := func() string {
		data, _ := os.ReadFile(switchLog)
		return string(data)
	}
	eastDown := func() bool {
		nodes, err := east.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, n := range nodes.Items {
			if !n.Spec.Unschedulable || n.Annotations[kube.AnnotationRunID] == "" {
				return false
			}
		}
		d, err := east.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
		require.NoError(t, err)
		return d.Status.ReadyReplicas == 0
	}

	reports := t.TempDir()
	cmd := exec.Command(drill, "run", "--kubeconfig", kubeconfig, "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "r", plan)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { return strings.Contains(switched(), "inject us-east us-west") }, 3*time.Minute, 50*time.Millisecond,
		"the switch did not run: %s", out)
	t.Logf("measure: switch ran %s after drill start", time.Since(start).Round(time.Millisecond))
	require.Eventually(t, eastDown, 30*time.Second, 100*time.Millisecond, "cluster us-east is not down during the fault: %s", out)
	wn, err := west.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range wn.Items {
		require.False(t, n.Spec.Unschedulable, "cluster us-west is not touched: node %s", n.Name)
	}
	require.NoError(t, cmd.Wait(), out.String())

	require.Equal(t, "inject us-east us-west\nrevert us-west us-east\n", switched(), "the switch ran once each way")
	en, err := east.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range en.Items {
		require.False(t, n.Spec.Unschedulable, "fail-back uncordons node %s", n.Name)
		require.NotContains(t, n.Annotations, kube.AnnotationRunID)
	}
	east.WaitReady(ctx, t, ns, "recommender-us-east")

	data, err := os.ReadFile(filepath.Join(reports, "kube-two-clusters", "r", "report.json"))
	require.NoError(t, err)
	rep, err := report.Read(data)
	require.NoError(t, err)
	f := rep.Steps[1].Fault
	require.NotNil(t, f.Reverted, out.String())
	require.Equal(t, []v1alpha1.FaultTarget{{Kind: "region", Name: "us-east", Region: "us-east"}}, f.Targets, "a cutover's target is the region")
	require.NotNil(t, f.Failover.CapacityRTO, "capacity RTO from both clusters' points: %s", out.String())
	require.NotNil(t, f.Failback, out.String())
	require.NotNil(t, f.Failback.CapacityRTO, "the fail-back's capacity RTO from both clusters' points: %s", out.String())
	notes := strings.Join(f.Notes, "\n")
	require.Contains(t, notes, "[us-east] traffic switched us-east→us-west by the switch action", notes)
	t.Logf("measure: two-cluster cutover capacity RTO %s; after fail-back %s", f.Failover.CapacityRTO.Duration, afterRevert(f.Failback))
}

func afterRevert(r *v1alpha1.Recovery) string {
	if r == nil {
		return "not measured"
	}
	return report.OptDuration(r.CapacityRTO)
}
