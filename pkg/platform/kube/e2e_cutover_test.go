//go:build e2e

package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

func (s *suite) cutoverScaleToZero(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "co", regions: map[string]scenarioRegion{"co-east": {nodes: 1, gpusPerNode: 2, replicas: 2}, "co-west": {nodes: 1, gpusPerNode: 2, replicas: 2}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-co-east", "recommender-co-west"), true)
	traffic := filepath.Join(t.TempDir(), "traffic")
	f := platform.Fault{ID: "cutover", RunID: "e2e-co", Spec: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
		From: "co-east", To: "co-west", Method: v1alpha1.CutoverScaleToZero, Traffic: v1alpha1.TrafficManual,
		Switch: &v1alpha1.CutoverSwitch{Action: v1alpha1.Action{Command: []string{"sh", "-c", `echo "$FIREDRILL_PHASE $FIREDRILL_TRAFFIC_TO" >> ` + traffic}}},
	}}}
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []evidence.Target{{Kind: evidence.KindRegion, Name: "co-east", Region: "co-east", Labels: map[string]string{
		kube.LabelCutoverMethod: "scaleToZero", kube.LabelCutoverWorkloads: "Deployment/co/recommender-co-east",
		kube.LabelCutoverTraffic: "manual: the switch action",
	}}}, targets, "one target, the region, and what a cutover would take down")
	require.NoError(t, p.Inject(ctx, f, targets[0]))
	d, err := c.Clientset.AppsV1().Deployments("co").Get(ctx, "recommender-co-east", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *d.Spec.Replicas)
	require.Equal(t, "2", d.Annotations[kube.AnnotationReplicas])
	eventually(ctx, t, 30*time.Second, "the lost east region to read 0 of 0: it desires nothing during the failover", func(ctx context.Context) (bool, error) {
		pt := capacityOf(ctx, t, p, "Deployment/co/recommender-co-east")
		return pt.Desired == 0 && pt.Ready == 0, nil
	})
	got, err := os.ReadFile(traffic)
	require.NoError(t, err)
	require.Equal(t, "inject co-west\n", string(got))

	reverted := time.Now()
	require.NoError(t, p.Revert(ctx, f, targets[0]))
	got, err = os.ReadFile(traffic)
	require.NoError(t, err)
	require.Equal(t, "inject co-west\nrevert co-east\n", string(got))
	c.WaitReady(ctx, t, "co", "recommender-co-east")
	d, err = c.Clientset.AppsV1().Deployments("co").Get(ctx, "recommender-co-east", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(2), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, kube.AnnotationReplicas)

	switched := ev.of(evidence.EventTrafficSwitched, f.ID)
	require.Len(t, switched, 2)
	require.Contains(t, switched[0].Message, "traffic switched co-east→co-west by the switch action in ")
	require.Contains(t, switched[1].Message, "traffic failed back co-west→co-east by the switch action in ")
	require.Len(t, ev.of(evidence.EventTookEffect, f.ID), 1)
	require.Len(t, ev.since(evidence.EventReplaced, f.ID, reverted), 1, "the restored pods are the fail-back's replacement, reported once")
}

func (s *suite) cutoverDrain(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "cd", regions: map[string]scenarioRegion{"cd-east": {nodes: 2, gpusPerNode: 2, replicas: 3}, "cd-west": {nodes: 1, gpusPerNode: 2, replicas: 1}}}
	sc.setUp(ctx, t, c)
	p, ev := newPlatform(ctx, t, c, sc.spec("recommender-cd-east", "recommender-cd-west"), true)
	f := platform.Fault{ID: "cutover", RunID: "e2e-cd", Spec: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
		From: "cd-east", To: "cd-west", Method: v1alpha1.CutoverDrain, Traffic: v1alpha1.TrafficAuto,
	}}}
	targets, err := p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	region := targets[0]
	require.Equal(t, "region/cd-east", region.String())
	east := strings.Split(region.Labels[kube.LabelCutoverNodes], ",")
	require.Len(t, east, 2, "the region target names the nodes it would cordon")
	listEast := func() []corev1.Pod {
		pods, err := c.Clientset.CoreV1().Pods("cd").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"region": "cd-east"}.String()})
		require.NoError(t, err)
		return pods.Items
	}
	before := listEast()
	require.Len(t, before, 3)

	// A pod no controller owns would be lost for good: refused before
	// any node is touched.
	bare := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "cd", Name: "bare"},
		Spec: corev1.PodSpec{NodeName: east[1], Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
	}
	_, err = c.Clientset.CoreV1().Pods("cd").Create(ctx, bare, metav1.CreateOptions{})
	require.NoError(t, err)
	err = p.Inject(ctx, f, region)
	require.ErrorContains(t, err, "refusing to cut over region cd-east")
	require.ErrorContains(t, err, "no controller owns")
	require.ErrorContains(t, err, "cd/bare")
	for _, n := range east {
		require.False(t, getNode(ctx, t, c, n).Spec.Unschedulable, "a refused cutover touches nothing")
		require.NotContains(t, getNode(ctx, t, c, n).Annotations, kube.AnnotationRunID)
	}
	require.Empty(t, ev.of(evidence.EventTookEffect, f.ID))
	require.NoError(t, c.Clientset.CoreV1().Pods("cd").Delete(ctx, "bare", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}))
	eventually(ctx, t, 30*time.Second, "the bare pod to be gone", func(ctx context.Context) (bool, error) {
		_, err := c.Clientset.CoreV1().Pods("cd").Get(ctx, "bare", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})

	// A DaemonSet runs on the second east node only: its pods stay, as a
	// drain leaves them, so that node's recommender pods are deleted one
	// by one and the first node's with one DeleteCollection.
	dsLabels := map[string]string{"app": "node-agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "cd", Name: "node-agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: dsLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: dsLabels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{corev1.LabelHostname: east[1]},
					Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers:   []corev1.Container{{Name: "agent", Image: "busybox"}},
				},
			},
		},
	}
	_, err = c.Clientset.AppsV1().DaemonSets("cd").Create(ctx, ds, metav1.CreateOptions{})
	require.NoError(t, err)
	agents := func() []corev1.Pod {
		pods, err := c.Clientset.CoreV1().Pods("cd").List(ctx, metav1.ListOptions{LabelSelector: labels.Set(dsLabels).String()})
		require.NoError(t, err)
		return pods.Items
	}
	eventually(ctx, t, time.Minute, "the node agent to run on "+east[1], func(context.Context) (bool, error) {
		a := agents()
		return len(a) == 1 && a[0].Spec.NodeName == east[1], nil
	})
	agent := agents()[0]
	calls := func(call string) int64 { return p.APIStats().ByCall[call] }
	collections, single := calls("deletecollection pods"), calls("delete pods")

	// The one target takes the whole region down and returns once its
	// pods are gone.
	injected := time.Now()
	require.NoError(t, p.Inject(ctx, f, region))
	for _, n := range east {
		node := getNode(ctx, t, c, n)
		require.True(t, node.Spec.Unschedulable, "node %s is cordoned", n)
		require.Equal(t, "e2e-cd", node.Annotations[kube.AnnotationRunID])
	}
	require.Zero(t, podsOn(ctx, t, c, "cd", east[0]), "the region's pods are gone when its inject returns")
	require.Equal(t, 1, podsOn(ctx, t, c, "cd", east[1]), "only the DaemonSet's pod is left on %s", east[1])
	require.Equal(t, agent.UID, agents()[0].UID, "the DaemonSet's pod was not deleted")
	require.Equal(t, int64(1), calls("deletecollection pods")-collections, "one DeleteCollection for the node without a DaemonSet pod")
	require.Equal(t, int64(podsBefore(before, east[1])), calls("delete pods")-single, "the other node's recommender pods one by one")
	require.NoError(t, p.Inject(ctx, f, region), "inject is idempotent")
	for _, pod := range listEast() {
		if pod.Labels["app"] != "recommender" {
			continue
		}
		require.False(t, slices.ContainsFunc(before, func(b corev1.Pod) bool { return b.UID == pod.UID }), "pod %s survived the cutover", pod.Name)
		require.Empty(t, pod.Spec.NodeName, "replacement %s is pinned to the lost region and stays Pending", pod.Name)
	}
	eventually(ctx, t, 30*time.Second, "the lost east region to read 0 of 0: it desires nothing during the failover", func(ctx context.Context) (bool, error) {
		pt := capacityOf(ctx, t, p, "Deployment/cd/recommender-cd-east")
		return pt.Desired == 0 && pt.Ready == 0, nil
	})
	eventually(ctx, t, 30*time.Second, "the replacements to be seen", func(context.Context) (bool, error) {
		return len(ev.of(evidence.EventReplaced, f.ID)) > 0, nil
	})
	require.Len(t, ev.of(evidence.EventReplaced, f.ID), 1, "three replacements, one event")
	effect := ev.of(evidence.EventTookEffect, f.ID)
	require.Len(t, effect, 1)
	require.False(t, effect[0].At.Before(injected))
	notes := strings.Join(ev.notes(f.ID), "\n")
	require.Contains(t, notes, "cordoned the 2 nodes of region cd-east")
	require.Contains(t, notes, "deleted the 3 pods on the 2 nodes of region cd-east")
	require.Contains(t, notes, "3 pods are pinned to region cd-east")
	require.NoError(t, c.Clientset.AppsV1().DaemonSets("cd").Delete(ctx, "node-agent", metav1.DeleteOptions{}))

	// The revert brings the whole region back.
	reverted := time.Now()
	require.NoError(t, p.Revert(ctx, f, region))
	for _, n := range east {
		node := getNode(ctx, t, c, n)
		require.False(t, node.Spec.Unschedulable, "node %s is uncordoned", n)
		require.NotContains(t, node.Annotations, kube.AnnotationRunID)
	}
	require.NoError(t, p.Revert(ctx, f, region), "revert is idempotent")
	c.WaitReady(ctx, t, "cd", "recommender-cd-east")
	marked, err := p.Marked(ctx, "e2e-cd", "")
	require.NoError(t, err)
	require.Empty(t, marked)
	require.Empty(t, ev.since(evidence.EventReplaced, f.ID, reverted),
		"the Pending replacements are scheduled, not created, when the region is back: no new replacement")
	t.Logf("notes:\n%s", strings.Join(ev.notes(f.ID), "\n"))
}

// podsBefore counts the pods of a list that ran on a node.
func podsBefore(pods []corev1.Pod, node string) int {
	n := 0
	for _, p := range pods {
		if p.Spec.NodeName == node {
			n++
		}
	}
	return n
}

func (s *suite) preflight(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "pf", regions: map[string]scenarioRegion{"pf-east": {nodes: 1, gpusPerNode: 2, replicas: 1}, "pf-west": {nodes: 1, gpusPerNode: 2}}}
	sc.setUp(ctx, t, c)
	spec := sc.spec("recommender-pf-east", "missing")
	spec.System.ModelStore = &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "no-store"}}
	spec.Steps = []v1alpha1.Step{
		{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}},
		{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Namespace: "kube-system"}}},
		{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "pf-east", To: "pf-west", Traffic: v1alpha1.TrafficManual,
			Switch: &v1alpha1.CutoverSwitch{HTTPRoute: &v1alpha1.HTTPRouteSwitch{Name: "frontdoor",
				Backends: []v1alpha1.RegionBackend{{Region: "pf-east", Service: "a"}, {Region: "pf-west", Service: "b"}}}}}}},
		{Name: "lose-store", Fault: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}},
		{Name: "typo", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "pf-eats", To: "pf-west"}}},
		{Name: "net", Fault: &v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "NetworkChaos"}}},
	}
	p, _ := newPlatform(ctx, t, c, spec, false)
	err := p.Preflight(ctx, spec)
	require.Error(t, err)
	t.Logf("preflight:\n%v", err)
	require.ErrorIs(t, err, kube.ErrGatewayAPIMissing, "the Gateway API CRDs are not installed in this cluster")
	require.ErrorIs(t, err, kube.ErrChaosMeshMissing)
	for _, want := range []string{
		"step kill: namespace kube-system is not in safety.namespaces [pf]",
		"step cutover: getting HTTPRoute pf/frontdoor",
		"step lose-store: system.modelStore.workload Deployment/pf/no-store does not exist",
		"step typo: region pf-eats has no schedulable node (label topology.kubernetes.io/region) to take down",
		"step net: chaos mesh is not installed",
		"system.workloads: Deployment/pf/missing not found",
	} {
		require.ErrorContains(t, err, want)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), 6, "one line per problem")
	nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: labels.Set{kube.LabelRegion: "pf-east"}.String()})
	require.NoError(t, err)
	for _, n := range nodes.Items {
		require.False(t, n.Spec.Unschedulable)
		require.NotContains(t, n.Annotations, kube.AnnotationRunID, "preflight touches nothing")
	}

	// A cluster that does not answer is the one problem worth saying.
	down, err := kube.New(kube.Options{Spec: spec, RESTConfig: &rest.Config{Host: "https://127.0.0.1:1"}})
	require.NoError(t, err)
	err = down.Preflight(ctx, spec)
	require.ErrorContains(t, err, "reaching the cluster at https://127.0.0.1:1")
	require.NotContains(t, err.Error(), "step ")
}

// regionRecovered: a run switches a Service and takes a region down, then
// dies (no Revert, no Stop). A later process that knows only the journal's
// region target, or nothing but the fault, restores every node and the
// Service from their marks.
func (s *suite) regionRecovered(t *testing.T) {
	ctx, c := s.ctx, s.c
	sc := scenario{ns: "rr", regions: map[string]scenarioRegion{"rr-east": {nodes: 2, gpusPerNode: 2, replicas: 2}, "rr-west": {nodes: 1, gpusPerNode: 2, replicas: 1}}}
	sc.setUp(ctx, t, c)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rr", Name: "frontdoor"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "recommender", "region": "rr-east"}, Ports: []corev1.ServicePort{{Port: 8080}}},
	}
	_, err := c.Clientset.CoreV1().Services("rr").Create(ctx, svc, metav1.CreateOptions{})
	require.NoError(t, err)
	spec := sc.spec("recommender-rr-east", "recommender-rr-west")
	f := platform.Fault{ID: "cutover", RunID: "e2e-rr", Spec: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
		From: "rr-east", To: "rr-west", Traffic: v1alpha1.TrafficManual,
		Switch: &v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}},
	}}}
	spec.Steps = []v1alpha1.Step{{Name: f.ID, Fault: f.Spec}}
	selector := func() map[string]string {
		got, err := c.Clientset.CoreV1().Services("rr").Get(ctx, "frontdoor", metav1.GetOptions{})
		require.NoError(t, err)
		return got.Spec.Selector
	}
	for _, journal := range []string{"the region target", "no target"} {
		dying, _ := newPlatform(ctx, t, c, spec, false)
		require.NoError(t, dying.Preflight(ctx, spec))
		targets, err := dying.Targets(ctx, f)
		require.NoError(t, err)
		require.NoError(t, dying.Inject(ctx, f, targets[0]))
		east := strings.Split(targets[0].Labels[kube.LabelCutoverNodes], ",")
		for _, n := range east {
			require.True(t, getNode(ctx, t, c, n).Spec.Unschedulable)
		}
		require.Equal(t, "rr-west", selector()["region"])
		require.Equal(t, `{"region":"rr-east"}`, getService(ctx, t, c, "rr", "frontdoor").Annotations[kube.AnnotationSelector])

		later, _ := newPlatform(ctx, t, c, spec, false)
		var jt []evidence.Target
		if journal == "the region target" {
			jt = targets
		}
		require.NoError(t, later.Recover(ctx, f, jt), "recover from %s", journal)
		for _, n := range east {
			node := getNode(ctx, t, c, n)
			require.False(t, node.Spec.Unschedulable, "%s: node %s is back", journal, n)
			require.NotContains(t, node.Annotations, kube.AnnotationRunID)
		}
		require.Equal(t, map[string]string{"app": "recommender", "region": "rr-east"}, selector(), "%s: traffic failed back", journal)
		require.NotContains(t, getService(ctx, t, c, "rr", "frontdoor").Annotations, kube.AnnotationRunID)
		marked, err := later.Marked(ctx, "e2e-rr", "")
		require.NoError(t, err)
		require.Empty(t, marked, journal)
		c.WaitReady(ctx, t, "rr", "recommender-rr-east")
	}
}

func getService(ctx context.Context, t *testing.T, c *framework.Cluster, ns, name string) *corev1.Service {
	t.Helper()
	svc, err := c.Clientset.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return svc
}
