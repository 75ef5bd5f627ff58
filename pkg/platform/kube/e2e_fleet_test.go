//go:build e2e

package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube"
)

// TestKubeFleet cuts a region that is a whole cluster over to another
// cluster, through one kubeconfig with a context per cluster, as a plan
// with target.clusters does.
func TestKubeFleet(t *testing.T) {
	ctx := t.Context()
	clusters := framework.StartMany(ctx, t, framework.Options{PodStartDelay: time.Second}, "east", "west")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, framework.WriteKubeconfig(kubeconfig, clusters))
	const ns = "fl"
	for region, c := range clusters {
		c.CreateNamespace(ctx, t, ns)
		specs := []framework.NodeSpec{{Region: region, GPUs: 2}, {Region: region, GPUs: 2}}
		if region == "east" {
			specs = append(specs, framework.NodeSpec{Name: "plain", GPUs: 2}) // no region label: the cluster's
		}
		c.AddNodes(ctx, t, specs...)
		c.DeployRecommender(ctx, t, ns, region, 2)
		c.WaitReady(ctx, t, ns, framework.RecommenderName(region))
	}
	switchLog := filepath.Join(t.TempDir(), "switch")
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: ns, Clusters: []v1alpha1.Cluster{
			{Region: "east", Context: "east"}, {Region: "west", Context: "west"},
		}},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender-east"}, {Name: "recommender-west"}}},
		Steps: []v1alpha1.Step{{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
			From: "east", To: "west", Traffic: v1alpha1.TrafficManual,
			Switch: &v1alpha1.CutoverSwitch{Action: v1alpha1.Action{Command: []string{"sh", "-c", `echo "$FIREDRILL_PHASE $FIREDRILL_TRAFFIC_TO" >> ` + switchLog}}},
		}}}},
	}
	fl, err := kube.NewFleet(kube.Options{Spec: spec, Kubeconfig: kubeconfig, PollInterval: 200 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, fl.Preflight(ctx, spec))
	ev := &events{}
	_, err = fl.Start(ctx, ev)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fl.Stop(context.Background())) })

	points, err := fl.Capacity(ctx)
	require.NoError(t, err, "each workload lives in one cluster: no error")
	var names []string
	for _, pt := range points {
		names = append(names, pt.Workload)
	}
	require.ElementsMatch(t, []string{"east/Deployment/fl/recommender-east", "west/Deployment/fl/recommender-west"}, names)

	f := platform.Fault{ID: "cutover", RunID: "e2e-fl", Spec: spec.Steps[0].Fault}
	targets, err := fl.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	require.Equal(t, "region/east", targets[0].String())
	require.Equal(t, "east", targets[0].Region)
	east := strings.Split(targets[0].Labels[kube.LabelCutoverNodes], ",")
	require.Len(t, east, 3)
	require.Contains(t, east, "plain", "a node without a region label is its cluster's")

	require.NoError(t, fl.Inject(ctx, f, targets[0]))
	for _, n := range east {
		node := getNode(ctx, t, clusters["east"], n)
		require.True(t, node.Spec.Unschedulable, "node %s of the lost cluster is cordoned", n)
	}
	west, err := clusters["west"].Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, n := range west.Items {
		require.False(t, n.Spec.Unschedulable, "the surviving cluster is not touched")
	}
	got, err := os.ReadFile(switchLog)
	require.NoError(t, err)
	require.Equal(t, "inject west\n", string(got))
	eventually(ctx, t, 30*time.Second, "the lost cluster to read 0 of 0: it desires nothing during the failover", func(ctx context.Context) (bool, error) {
		points, err := fl.Capacity(ctx)
		if err != nil {
			return false, err
		}
		for _, pt := range points {
			if pt.Workload == "east/Deployment/fl/recommender-east" {
				return pt.Desired == 0 && pt.Ready == 0, nil
			}
		}
		return false, nil
	})
	eventually(ctx, t, 30*time.Second, "the pinned replacements to be seen", func(context.Context) (bool, error) {
		return len(ev.of(evidence.EventReplaced, f.ID)) > 0, nil
	})
	require.Len(t, ev.of(evidence.EventReplaced, f.ID), 1)
	require.Len(t, ev.of(evidence.EventTookEffect, f.ID), 1)

	require.NoError(t, fl.Revert(ctx, f, targets[0]))
	for _, n := range east {
		require.False(t, getNode(ctx, t, clusters["east"], n).Spec.Unschedulable, "node %s is back", n)
	}
	got, err = os.ReadFile(switchLog)
	require.NoError(t, err)
	require.Equal(t, "inject west\nrevert east\n", string(got), "the switch ran once each way")
	clusters["east"].WaitReady(ctx, t, ns, "recommender-east")

	switched := ev.of(evidence.EventTrafficSwitched, f.ID)
	require.Len(t, switched, 2)
	require.True(t, strings.HasPrefix(switched[0].Message, "[east] traffic switched east→west by the switch action"), switched[0].Message)
	require.True(t, strings.HasPrefix(switched[1].Message, "[east] traffic failed back west→east by the switch action"), switched[1].Message)
	notes := strings.Join(ev.notes(f.ID), "\n")
	require.Contains(t, notes, "[east] cordoned the 3 nodes of region east")
	t.Logf("notes:\n%s", notes)
}
