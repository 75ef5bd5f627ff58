//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/charts/helmtest"
	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// The chart's release in the e2e tests: its ServiceAccount, Lease and
// objects are named firedrill in firedrill-system.
const (
	chartRelease   = "firedrill"
	chartNamespace = serveNamespace
	// outside is a namespace drill serve is not given.
	outside = "payments"
)

// chartValues install drill serve for namespace recsys only, with the
// reference recommender there as the system under test; every pod
// tolerates kwok's taint, and drill serve and the model store run on a
// node of neither region, so that drains of GPU nodes never meet them.
const chartValues = `watchNamespaces: [recsys]
tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
nodeSelector: {topology.kubernetes.io/region: ops}
logLevel: debug
recommender:
  enabled: true
  namespace: recsys
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
  modelStore:
    nodeSelector: {topology.kubernetes.io/region: ops}
    tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
`

// TestHelmChart installs the chart on a real control plane and proves its
// RBAC: the render passes a server-side dry-run apply (Helm v4 and v3),
// helm install brings up drill serve and the recommender, drill serve run
// out of the cluster with the chart's ServiceAccount token drills every
// kubernetes example plan of drills/ to a pass, SubjectAccessReviews show
// that identity can do nothing beyond what the code needs, and helm
// upgrade and uninstall (which keeps the CRDs) work.
func TestHelmChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	helms := helmtest.Binaries(t)
	begin := time.Now()
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", Zone: "us-west-2b", GPUs: 4},
		framework.NodeSpec{Name: "ops-1", Region: "ops", CPU: "16", Memory: "64Gi"},
	)
	c.InstallChaosMeshCRDs(ctx, t)
	standIn := c.StartChaosMeshStandIn(ctx, t)
	t.Cleanup(func() { require.NoError(t, standIn.Err(), "the Chaos Mesh stand-in met an error") })
	for _, n := range []string{ns, chartNamespace, outside} {
		c.CreateNamespace(ctx, t, n)
	}
	t.Logf("measure: control plane, 5 nodes and Chaos Mesh CRDs ready in %s", time.Since(begin).Round(time.Millisecond))
	values := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(values, []byte(chartValues), 0o644))
	helmArgs := func(args ...string) []string {
		return append(args, "--kubeconfig", c.Kubeconfig, "--namespace", chartNamespace, "--values", values)
	}

	t.Run("the rendered chart passes a server-side dry-run apply", func(t *testing.T) {
		for _, h := range helms {
			begin := time.Now()
			out := h.Template(t, "--include-crds", "--values", values)
			objs := helmtest.Objects(t, out)
			kinds := map[string]int{}
			for _, u := range objs {
				kinds[u.GetKind()]++
				if u.GetNamespace() == "" && u.GetKind() != "ClusterRole" && u.GetKind() != "ClusterRoleBinding" && u.GetKind() != "CustomResourceDefinition" {
					u.SetNamespace(chartNamespace)
				}
				err := c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), framework.FieldOwner, client.ForceOwnership, client.DryRunAll)
				require.NoError(t, err, "%s: the API server rejects %s %s/%s", h, u.GetKind(), u.GetNamespace(), u.GetName())
			}
			t.Logf("measure: %s: %d objects rendered and dry-run applied in %s: %v", h, len(objs), time.Since(begin).Round(time.Millisecond), kinds)
		}
		err := c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "frontdoor"}, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}})
		require.True(t, apierrors.IsNotFound(err), "a dry run stores nothing: %v", err)
	})

	t.Run("helm install brings up drill serve and the recommender", func(t *testing.T) {
		h := helms[0]
		begin := time.Now()
		out, stderr, err := h.Run(t, helmArgs("install", chartRelease, helmtest.Chart(t), "--wait", "--timeout", "5m")...)
		require.NoError(t, err, "%s\n%s", out, stderr)
		t.Logf("measure: %s install --wait %s", h, time.Since(begin).Round(time.Millisecond))
		require.Contains(t, out, "drill trigger -n recsys gpu-pod-kill", "NOTES.txt says how to run a first drill")
		c.WaitReady(ctx, t, chartNamespace, chartRelease)
		for _, d := range []string{"recommender-us-east", "recommender-us-west", "model-store"} {
			c.WaitReady(ctx, t, ns, d)
		}
		for _, crd := range []string{"drillplans.firedrill.dev", "drillruns.firedrill.dev"} {
			obj := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}}
			require.NoError(t, c.Client.Get(ctx, types.NamespacedName{Name: crd}, obj), "helm installed the CRD from crds/")
		}
	})

	t.Run("the chart's identity can do no more than the code needs", func(t *testing.T) {
		leastPrivilege(ctx, t, c)
	})

	t.Run("drill serve under the chart's identity drills every kubernetes example plan to a pass", func(t *testing.T) {
		kubeconfig, _ := serviceAccountKubeconfig(ctx, t, c, chartNamespace, chartRelease, "")
		kubeconfig = withFleetContexts(t, kubeconfig)
		// The runbook commands of the plans (kubectl in region-cutover)
		// run as drill serve, with its kubeconfig; the webhook's token
		// comes from its environment.
		t.Setenv("KUBECONFIG", kubeconfig)
		t.Setenv("FLAGS_TOKEN", "e2e-flags-token")
		serve := startServe(ctx, t, "chart", kubeconfig, "--watch-namespace", ns, "--leader-election-id", chartRelease)
		runExamplePlans(ctx, t, c)
		// A right the code lacks may not fail a run (a heartbeat Lease
		// left behind), but drill serve logs the refusal.
		for _, line := range strings.Split(serve.out.String(), "\n") {
			require.NotContains(t, line, "forbidden", "drill serve was refused a right")
		}
	})

	t.Run("helm upgrade to two replicas with Helm v3, and uninstall keeps the CRDs and the plans", func(t *testing.T) {
		v4, v3 := helms[0], helms[1]
		begin := time.Now()
		out, stderr, err := v3.Run(t, helmArgs("upgrade", chartRelease, helmtest.Chart(t), "--set", "replicaCount=2", "--wait", "--timeout", "5m")...)
		require.NoError(t, err, "%s\n%s", out, stderr)
		t.Logf("measure: %s upgrade --wait %s", v3, time.Since(begin).Round(time.Millisecond))
		c.WaitReady(ctx, t, chartNamespace, chartRelease)
		d, err := c.Clientset.AppsV1().Deployments(chartNamespace).Get(ctx, chartRelease, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, int32(2), *d.Spec.Replicas)

		out, stderr, err = v4.Run(t, "uninstall", chartRelease, "--kubeconfig", c.Kubeconfig, "--namespace", chartNamespace, "--wait")
		require.NoError(t, err, "%s\n%s", out, stderr)
		_, err = c.Clientset.RbacV1().ClusterRoles().Get(ctx, chartRelease, metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err), "the ClusterRole goes: %v", err)
		_, err = c.Clientset.AppsV1().Deployments(ns).Get(ctx, "recommender-us-east", metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err), "the recommender goes: %v", err)
		var plans v1alpha1.DrillPlanList
		require.NoError(t, c.Client.List(ctx, &plans, client.InNamespace(ns)), "the CRDs stay")
		require.NotEmpty(t, plans.Items, "and so do the plans")
	})
}
