//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// access is one SubjectAccessReview: a verb on a resource (group/resource
// or group/resource/subresource) in a namespace ("" is cluster-wide).
type access struct {
	verb, resource, namespace string
}

func (a access) String() string {
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	return fmt.Sprintf("%s %s %s", a.verb, a.resource, where)
}

// review asks the API server whether the chart's ServiceAccount may do a.
func review(ctx context.Context, t *testing.T, c *framework.Cluster, a access) bool {
	t.Helper()
	parts := strings.SplitN(a.resource, "/", 3)
	attrs := &authorizationv1.ResourceAttributes{Namespace: a.namespace, Verb: a.verb, Group: parts[0], Resource: parts[1]}
	if len(parts) == 3 {
		attrs.Subresource = parts[2]
	}
	sar, err := c.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + chartNamespace + ":" + chartRelease,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + chartNamespace, "system:authenticated"},
		ResourceAttributes: attrs,
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return sar.Status.Allowed
}

// leastPrivilege checks, with SubjectAccessReviews, what the installed
// chart's identity may and may not do, and that a real attempt to grant
// itself more is refused.
func leastPrivilege(ctx context.Context, t *testing.T, c *framework.Cluster) {
	t.Helper()
	// What the code needs: without these the drills below could not run,
	// and the checks below could not tell a refusal from a broken review.
	for _, a := range []access{
		{"patch", "/nodes", ""},
		{"patch", "/nodes/status", ""},
		{"list", "/pods", ""},
		{"delete", "/pods", ns},
		{"create", "/pods/eviction", ns},
		{"patch", "apps/deployments", ns},
		{"create", "networking.k8s.io/networkpolicies", ns},
		{"create", "chaos-mesh.org/networkchaos", ns},
		{"patch", "firedrill.dev/drillruns/status", ns},
		{"update", "coordination.k8s.io/leases", chartNamespace},
		{"create", "authentication.k8s.io/tokenreviews", ""},
		{"create", "authorization.k8s.io/subjectaccessreviews", ""},
	} {
		require.True(t, review(ctx, t, c, a), "the chart's identity may %s", a)
	}
	denied := []access{
		// Secrets, anywhere.
		{"get", "/secrets", ns}, {"list", "/secrets", ns}, {"watch", "/secrets", ""},
		{"get", "/secrets", chartNamespace}, {"list", "/secrets", ""},
		// Nodes are cordoned and uncordoned, never removed or replaced.
		{"delete", "/nodes", ""}, {"deletecollection", "/nodes", ""}, {"create", "/nodes", ""}, {"update", "/nodes", ""},
		// Its own rights: no RBAC verb at all, no impersonation, no tokens.
		{"create", "rbac.authorization.k8s.io/rolebindings", ns}, {"create", "rbac.authorization.k8s.io/clusterrolebindings", ""},
		{"create", "rbac.authorization.k8s.io/roles", chartNamespace}, {"update", "rbac.authorization.k8s.io/clusterroles", ""},
		{"escalate", "rbac.authorization.k8s.io/clusterroles", ""}, {"bind", "rbac.authorization.k8s.io/clusterroles", ""},
		{"escalate", "rbac.authorization.k8s.io/roles", ns}, {"bind", "rbac.authorization.k8s.io/roles", ns},
		{"impersonate", "/serviceaccounts", chartNamespace}, {"impersonate", "/users", ""},
		{"create", "/serviceaccounts/token", chartNamespace},
		// No way into a workload.
		{"create", "/pods/exec", ns}, {"create", "/pods", ns}, {"update", "apps/deployments", ns},
	}
	// A namespace outside watchNamespaces: nothing namespaced.
	for _, r := range []string{"/pods", "/pods/eviction", "/services", "/events", "apps/deployments", "apps/statefulsets",
		"networking.k8s.io/networkpolicies", "gateway.networking.k8s.io/httproutes", "chaos-mesh.org/podchaos",
		"coordination.k8s.io/leases", "firedrill.dev/drillplans", "firedrill.dev/drillruns", "discovery.k8s.io/endpointslices"} {
		for _, verb := range []string{"create", "patch", "delete", "deletecollection", "watch"} {
			denied = append(denied, access{verb, r, outside})
		}
	}
	denied = append(denied, access{"list", "firedrill.dev/drillplans", outside}, access{"list", "apps/deployments", outside},
		access{"list", "firedrill.dev/drillruns", ""}, access{"list", "apps/deployments", ""})
	for _, a := range denied {
		require.False(t, review(ctx, t, c, a), "the chart's identity must not %s", a)
	}
	t.Logf("measure: %d SubjectAccessReviews of the chart's identity", 12+len(denied))

	// A real attempt, with its token: binding itself to cluster-admin.
	token := serviceAccountToken(ctx, t, c, chartNamespace, chartRelease, nil)
	cfg := *c.Config
	cfg.BearerToken, cfg.BearerTokenFile = token, ""
	cfg.Username, cfg.Password = "", ""
	cfg.CertFile, cfg.KeyFile, cfg.CertData, cfg.KeyData = "", "", nil, nil
	cs, err := kubernetes.NewForConfig(&cfg)
	require.NoError(t, err)
	_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "escalate"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: chartNamespace, Name: chartRelease}},
	}, metav1.CreateOptions{})
	require.True(t, apierrors.IsForbidden(err), "binding itself to cluster-admin is forbidden: %v", err)
	_, err = cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "listing Secrets is forbidden: %v", err)
	_, err = cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "the token works")
}

// withFleetContexts writes a copy of a kubeconfig with the contexts
// drills/region-cutover-two-clusters.yaml names, prod-us-east and
// prod-us-west, both on the e2e cluster with the kubeconfig's identity.
func withFleetContexts(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	require.NoError(t, err)
	cur := cfg.Contexts[cfg.CurrentContext]
	require.NotNil(t, cur)
	for _, name := range []string{"prod-us-east", "prod-us-west"} {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: cur.Cluster, AuthInfo: cur.AuthInfo, Namespace: ns}
	}
	out := filepath.Join(t.TempDir(), "fleet.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, out))
	return out
}

// adaptExample makes an example plan runnable on the e2e cluster, keeping
// its faults, targets, safety and objectives: the probes go to a local
// server (kwok's pods run no process, and nothing resolves
// frontdoor.recsys.svc here); waits and fault durations shrink to seconds;
// the RPO objective goes (no pod serves a model: TestServiceDrillsOnProcessPods
// measures it); the runbook's webhook goes to the local server and the
// GSLB script, which does not exist here, becomes an echo.
func adaptExample(t *testing.T, u *unstructured.Unstructured, endpoint string) {
	t.Helper()
	spec, ok := u.Object["spec"].(map[string]any)
	require.True(t, ok)
	m := func(parent map[string]any, key string) map[string]any {
		child, _ := parent[key].(map[string]any)
		return child
	}
	m(spec, "system")["endpoint"] = endpoint
	if store := m(m(spec, "system"), "modelStore"); store != nil {
		delete(store, "ref")
	}
	m(spec, "load")["requests"] = []any{map[string]any{"path": "/"}}
	objectives := m(spec, "objectives")
	delete(objectives, "rpo")
	if rec := m(objectives, "recovered"); rec != nil {
		rec["for"] = "1s"
	}
	steps, ok := spec["steps"].([]any)
	require.True(t, ok)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		if _, ok := step["wait"]; ok {
			step["wait"] = "1s"
		}
		fault := m(step, "fault")
		if fault == nil {
			continue
		}
		if _, ok := fault["duration"]; ok {
			fault["duration"] = "3s"
		}
		if ex := m(fault, "exec"); ex != nil {
			for _, k := range []string{"inject", "revert"} {
				if wh := m(m(ex, k), "webhook"); wh != nil {
					wh["url"] = endpoint + "/flags"
				}
			}
		}
		if sw := m(m(fault, "regionCutover"), "switch"); sw != nil {
			if cmd, ok := sw["command"].([]any); ok && strings.Contains(fmt.Sprint(cmd), "gslb-weight.sh") {
				sw["command"] = []any{"sh", "-c", `echo "traffic to $FIREDRILL_TRAFFIC_TO"`}
			}
		}
	}
}

// runExamplePlans applies every kubernetes plan of drills/ (adapted by
// adaptExample) to ns and runs it with drill trigger, as a user would;
// drill serve must run it to a pass.
func runExamplePlans(ctx context.Context, t *testing.T, c *framework.Cluster) {
	t.Helper()
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "drills", "*.yaml"))
	require.NoError(t, err)
	endpoint := okEndpoint(t)
	drill := drillRunner{bin: buildDrill(t), kubeconfig: c.Kubeconfig}
	var ran []string
	for _, f := range files {
		objs, err := framework.ReadObjects(f)
		require.NoError(t, err)
		require.Len(t, objs, 1)
		u := objs[0]
		if p, _, _ := unstructured.NestedString(u.Object, "spec", "target", "platform"); p != string(v1alpha1.PlatformKubernetes) {
			continue
		}
		name := u.GetName()
		ran = append(ran, name)
		t.Run(filepath.Base(f), func(t *testing.T) {
			settleCluster(ctx, t, c)
			adaptExample(t, u, endpoint)
			u.SetNamespace(ns)
			require.NoError(t, c.Client.Create(ctx, u))
			begin := time.Now()
			cmd, out := drill.cmd("trigger", "-n", ns, name)
			err := runWithin(ctx, cmd, 8*time.Minute)
			took := time.Since(begin)
			require.NoError(t, err, "drill trigger %s:\n%s", name, out.String())
			var runs v1alpha1.DrillRunList
			require.NoError(t, c.Client.List(ctx, &runs, client.InNamespace(ns)))
			var run *v1alpha1.DrillRun
			for i := range runs.Items {
				if r := &runs.Items[i]; r.Spec.PlanRef != nil && r.Spec.PlanRef.Name == name {
					run = r
				}
			}
			require.NotNil(t, run, "the run of %s", name)
			require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, statusOf(run))
			require.Equal(t, v1alpha1.VerdictPass, run.Status.Verdict, statusOf(run))
			t.Logf("measure: %s through drill serve under the chart's identity: %s, %d steps, worst recovery %s",
				name, took.Round(time.Millisecond), len(run.Status.Steps), run.Status.WorstRecovery)
		})
	}
	require.GreaterOrEqual(t, len(ran), 7, "every kubernetes example plan: %v", ran)
}

// runWithin runs cmd and kills it after timeout or when ctx ends.
func runWithin(ctx context.Context, cmd *exec.Cmd, timeout time.Duration) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	case <-time.After(timeout):
	}
	_ = cmd.Process.Kill()
	<-done
	return errors.New("timed out")
}
