package charts_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/charts/helmtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// rendered is one render's objects.
type rendered []*unstructured.Unstructured

func (r rendered) count(kind string) int {
	n := 0
	for _, o := range r {
		if o.GetKind() == kind {
			n++
		}
	}
	return n
}

func (r rendered) get(t *testing.T, kind, namespace, name string, into any) {
	t.Helper()
	for _, o := range r {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into))
			return
		}
	}
	t.Fatalf("no %s %s/%s in the render", kind, namespace, name)
}

func (r rendered) has(kind, namespace, name string) bool {
	return slices.ContainsFunc(r, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name
	})
}

const release, releaseNS = "firedrill", "firedrill-system"

// restricted checks a pod template against the restricted Pod Security
// Standard.
func restricted(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	require.NotNil(t, psc, what)
	require.True(t, *psc.RunAsNonRoot, what)
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type, what)
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		require.NotNil(t, sc, "%s container %s", what, c.Name)
		require.False(t, *sc.AllowPrivilegeEscalation, "%s container %s", what, c.Name)
		require.True(t, *sc.ReadOnlyRootFilesystem, "%s container %s", what, c.Name)
		require.True(t, *sc.RunAsNonRoot, "%s container %s", what, c.Name)
		require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s container %s", what, c.Name)
		require.Empty(t, sc.Capabilities.Add, "%s container %s", what, c.Name)
		require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, "%s container %s", what, c.Name)
		require.NotNil(t, c.ReadinessProbe, "%s container %s", what, c.Name)
	}
}

// grantsOf lists a rule set's rights as group/resource:verb.
func grantsOf(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+":"+v)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func args(a ...string) []string { return a }

// serveBudget is drill serve's PodDisruptionBudget in the render; it
// selects exactly the Deployment's pods.
func serveBudget(t *testing.T, r rendered) policyv1.PodDisruptionBudget {
	t.Helper()
	var pdb policyv1.PodDisruptionBudget
	r.get(t, "PodDisruptionBudget", releaseNS, release, &pdb)
	var d appsv1.Deployment
	r.get(t, "Deployment", releaseNS, release, &d)
	require.Equal(t, d.Spec.Selector, pdb.Spec.Selector, "the budget selects drill serve's pods")
	require.Equal(t, "drill-serve", pdb.Labels["app.kubernetes.io/component"])
	return pdb
}

func TestTemplate(t *testing.T) {
	helms := helmtest.Binaries(t)
	fullname := release
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, r rendered)
	}{
		{
			name: "the defaults install drill serve with one ClusterRole and nothing optional",
			check: func(t *testing.T, r rendered) {
				t.Helper()
				require.Equal(t, 1, r.count("Deployment"))
				require.Equal(t, 0, r.count("Role"))
				require.Equal(t, 3, r.count("ClusterRole"), "drill serve's, view and edit")
				for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "ConfigMap", "PersistentVolumeClaim", "PodDisruptionBudget"} {
					require.Zero(t, r.count(kind), kind)
				}
				var d appsv1.Deployment
				r.get(t, "Deployment", releaseNS, fullname, &d)
				require.Equal(t, int32(1), *d.Spec.Replicas)
				restricted(t, "drill serve", d.Spec.Template.Spec)
				c := d.Spec.Template.Spec.Containers[0]
				require.Equal(t, "ghcr.io/firedrill/drill:0.1.0", c.Image, "the tag defaults to appVersion")
				require.Contains(t, c.Args, "--leader-elect=true")
				require.Contains(t, c.Args, "--leader-election-namespace="+releaseNS)
				require.Contains(t, c.Args, "--listen=:8090")
				require.NotContains(t, strings.Join(c.Args, " "), "--watch-namespace")
				require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
				require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
				require.NotEmpty(t, c.Resources.Requests)
				require.Equal(t, int64(210), *d.Spec.Template.Spec.TerminationGracePeriodSeconds, "shutdownTimeout 3m and 30 s")
				require.Equal(t, fullname, d.Spec.Template.Spec.ServiceAccountName)
				var role rbacv1.ClusterRole
				r.get(t, "ClusterRole", "", fullname, &role)
				g := grantsOf(role.Rules)
				require.Contains(t, g, "/pods:delete")
				require.Contains(t, g, "firedrill.dev/drillruns:create")
				var b rbacv1.ClusterRoleBinding
				r.get(t, "ClusterRoleBinding", "", fullname, &b)
				require.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: releaseNS}}, b.Subjects)
			},
		},
		{
			name: "watchNamespaces puts the namespaced rights in a Role per namespace and keeps the ClusterRole to nodes and cluster-wide reads",
			args: args("--set", "watchNamespaces={recsys,ml}"),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				var d appsv1.Deployment
				r.get(t, "Deployment", releaseNS, fullname, &d)
				require.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--watch-namespace=recsys,ml")
				var role rbacv1.ClusterRole
				r.get(t, "ClusterRole", "", fullname, &role)
				for _, g := range grantsOf(role.Rules) {
					allowed := strings.HasPrefix(g, "/nodes") || strings.HasPrefix(g, "authentication.k8s.io/") || strings.HasPrefix(g, "authorization.k8s.io/") ||
						slices.Contains([]string{"/pods:get", "/pods:list", "policy/poddisruptionbudgets:list", "apps/daemonsets:get"}, g)
					require.True(t, allowed, "the ClusterRole grants %s", g)
				}
				for _, ns := range []string{"recsys", "ml"} {
					var nr rbacv1.Role
					r.get(t, "Role", ns, fullname, &nr)
					g := grantsOf(nr.Rules)
					require.Contains(t, g, "/pods:delete")
					require.Contains(t, g, "firedrill.dev/drillruns:patch")
					require.NotContains(t, g, "/nodes:patch")
					var rb rbacv1.RoleBinding
					r.get(t, "RoleBinding", ns, fullname, &rb)
					require.Equal(t, "Role", rb.RoleRef.Kind)
					require.Equal(t, releaseNS, rb.Subjects[0].Namespace)
				}
				var le rbacv1.Role
				r.get(t, "Role", releaseNS, fullname+"-leader-election", &le)
				require.Equal(t, []string{"/events:create", "/events:patch", "coordination.k8s.io/leases:create", "coordination.k8s.io/leases:get", "coordination.k8s.io/leases:update"}, grantsOf(le.Rules))
			},
		},
		{
			name: "two replicas elect a leader",
			args: args("--set", "replicaCount=2"),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				var d appsv1.Deployment
				r.get(t, "Deployment", releaseNS, fullname, &d)
				require.Equal(t, int32(2), *d.Spec.Replicas)
				require.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--leader-elect=true")
			},
		},
		{
			name: "every option renders, and every pod meets the restricted standard",
			args: args("--set", "recommender.enabled=true,dashboard.enabled=true,networkPolicy.enabled=true,metrics.serviceMonitor.enabled=true,podDisruptionBudget.enabled=true",
				"--set", "storage.type=persistentVolumeClaim,api.tlsSecretName=drill-tls,image.digest=sha256:"+strings.Repeat("a", 64),
				"--set", "recommender.gpu.count=2,recommender.namespace=recsys,recommender.modelRef=model-store.recsys.svc:5000/recommender:prod"),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				require.Equal(t, 1, r.count("ServiceMonitor"))
				require.Equal(t, 1, r.count("NetworkPolicy"))
				require.Equal(t, 1, r.count("PersistentVolumeClaim"))
				require.Equal(t, 4, r.count("Deployment"), "drill serve, two recommenders, the model store")
				var d appsv1.Deployment
				r.get(t, "Deployment", releaseNS, fullname, &d)
				c := d.Spec.Template.Spec.Containers[0]
				require.Equal(t, "ghcr.io/firedrill/drill@sha256:"+strings.Repeat("a", 64), c.Image)
				require.Contains(t, c.Args, "--tls-cert-file=/etc/firedrill/tls/tls.crt")
				require.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type, "one claim")
				require.Equal(t, fullname, d.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
				for _, name := range []string{"recommender-us-east", "recommender-us-west", "model-store"} {
					var sut appsv1.Deployment
					r.get(t, "Deployment", "recsys", name, &sut)
					restricted(t, name, sut.Spec.Template.Spec)
				}
				restricted(t, "drill serve", d.Spec.Template.Spec)
				var east appsv1.Deployment
				r.get(t, "Deployment", "recsys", "recommender-us-east", &east)
				res := east.Spec.Template.Spec.Containers[0].Resources
				gpu := corev1.ResourceName("nvidia.com/gpu")
				require.Equal(t, "2", res.Requests.Name(gpu, "").String())
				require.Equal(t, "2", res.Limits.Name(gpu, "").String(), "extended resources: limit equals request")
				require.Equal(t, "us-east", east.Spec.Template.Spec.NodeSelector["topology.kubernetes.io/region"])
				require.Subset(t, east.Spec.Template.Spec.Containers[0].Args,
					[]string{"--addr=$(POD_IP):8080", "--allow-remote", "--model-ref=model-store.recsys.svc:5000/recommender:prod", "--plain-http"})
				require.True(t, r.has("PodDisruptionBudget", "recsys", "recommender-us-east"))
				require.True(t, r.has("PodDisruptionBudget", releaseNS, fullname), "drill serve's")
				var fd corev1.Service
				r.get(t, "Service", "recsys", "frontdoor", &fd)
				require.Equal(t, map[string]string{"app": "recommender", "region": "us-east"}, fd.Spec.Selector)
				var cm corev1.ConfigMap
				r.get(t, "ConfigMap", releaseNS, fullname+"-dashboard", &cm)
				require.Equal(t, "1", cm.Labels["grafana_dashboard"])
				want, err := os.ReadFile(filepath.Join(helmtest.Chart(t), "dashboards", "firedrill.json"))
				require.NoError(t, err)
				require.JSONEq(t, string(want), cm.Data["firedrill.json"])
			},
		},
		{
			name: "the NetworkPolicy lets apiFrom reach the API, metricsFrom the metrics and anyone the probes",
			args: args("--set", "networkPolicy.enabled=true", "--set-json", `networkPolicy.apiFrom=[{"namespaceSelector":{"matchLabels":{"team":"sre"}}}]`),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				var np networkingv1.NetworkPolicy
				r.get(t, "NetworkPolicy", releaseNS, fullname, &np)
				require.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes)
				require.Equal(t, map[string]string{"app.kubernetes.io/name": "firedrill", "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "drill-serve"}, np.Spec.PodSelector.MatchLabels)
				require.Len(t, np.Spec.Ingress, 3)
				api := np.Spec.Ingress[0]
				require.Equal(t, "api", api.Ports[0].Port.StrVal)
				require.Equal(t, map[string]string{"team": "sre"}, api.From[0].NamespaceSelector.MatchLabels)
				require.Equal(t, "metrics", np.Spec.Ingress[1].Ports[0].Port.StrVal)
				require.Empty(t, np.Spec.Ingress[1].From, "metricsFrom empty: any source")
				require.Equal(t, "probes", np.Spec.Ingress[2].Ports[0].Port.StrVal)
			},
		},
		{
			name: "the recommender without GPUs requests none",
			args: args("--set", "recommender.enabled=true,recommender.gpu.count=0"),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				var east appsv1.Deployment
				r.get(t, "Deployment", releaseNS, "recommender-us-east", &east)
				res := east.Spec.Template.Spec.Containers[0].Resources
				require.NotContains(t, res.Requests, corev1.ResourceName("nvidia.com/gpu"))
				require.Empty(t, res.Limits)
			},
		},
		{
			name: "rbac.create false and an existing ServiceAccount render no RBAC",
			args: args("--set", "rbac.create=false,serviceAccount.create=false,serviceAccount.name=mine"),
			check: func(t *testing.T, r rendered) {
				t.Helper()
				for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"} {
					require.Zero(t, r.count(kind), kind)
				}
				var d appsv1.Deployment
				r.get(t, "Deployment", releaseNS, fullname, &d)
				require.Equal(t, "mine", d.Spec.Template.Spec.ServiceAccountName)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first rendered
			for _, h := range helms {
				objs := rendered(helmtest.Objects(t, h.Template(t, tc.args...)))
				if first == nil {
					first = objs
					tc.check(t, objs)
					continue
				}
				// v4 separates documents by a blank line; the objects agree.
				require.Equal(t, first, objs, "%s renders what helm v4 renders", h)
			}
		})
	}
}

// TestPodDisruptionBudget: podDisruptionBudget.enabled renders a budget
// that selects drill serve's pods, with minAvailable (1 when neither it
// nor maxUnavailable is set) or maxUnavailable, with Helm v4 and v3.
func TestPodDisruptionBudget(t *testing.T) {
	one, zero, half := intstr.FromInt32(1), intstr.FromInt32(0), intstr.FromString("50%")
	for _, tc := range []struct {
		name, set string
		min, max  *intstr.IntOrString
	}{
		{name: "minAvailable 1 by default: a drain keeps one of two pods", set: "replicaCount=2", min: &one},
		{name: "minAvailable 0 is kept, not taken for unset", set: "podDisruptionBudget.minAvailable=0", min: &zero},
		{name: "maxUnavailable takes a percentage, and then there is no minAvailable", set: "podDisruptionBudget.maxUnavailable=50%", max: &half},
	} {
		for _, h := range helmtest.Binaries(t) {
			t.Run(h.String()+"/"+tc.name, func(t *testing.T) {
				r := rendered(helmtest.Objects(t, h.Template(t, "--set", "podDisruptionBudget.enabled=true,"+tc.set)))
				require.Equal(t, 1, r.count("PodDisruptionBudget"))
				pdb := serveBudget(t, r)
				require.Equal(t, tc.min, pdb.Spec.MinAvailable)
				require.Equal(t, tc.max, pdb.Spec.MaxUnavailable)
			})
		}
	}
}

// TestLint runs helm lint --strict with each major version over values
// files that turn every option on.
func TestLint(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"defaults.yaml":   "{}\n",
		"namespaces.yaml": "watchNamespaces: [recsys, ml]\nreplicaCount: 2\n",
		"everything.yaml": `recommender: {enabled: true, gpu: {count: 2}}
dashboard: {enabled: true}
networkPolicy: {enabled: true, apiFrom: [{namespaceSelector: {matchLabels: {team: sre}}}]}
metrics: {serviceMonitor: {enabled: true, labels: {release: prometheus}}}
storage: {type: persistentVolumeClaim, storageClassName: fast}
podDisruptionBudget: {enabled: true, maxUnavailable: 1}
`,
	}
	for _, h := range helmtest.Binaries(t) {
		for name, body := range files {
			t.Run(h.String()+"/"+name, func(t *testing.T) {
				p := filepath.Join(dir, name)
				require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
				out, stderr, err := h.Run(t, "lint", "--strict", helmtest.Chart(t), "--values", p)
				require.NoError(t, err, "%s\n%s", out, stderr)
				require.Contains(t, out, "1 chart(s) linted, 0 chart(s) failed")
			})
		}
	}
}

// TestSchemaRefuses checks that helm template (and so install) fails
// with the key's path on a wrong type, an unknown key or a bad value.
func TestSchemaRefuses(t *testing.T) {
	for _, h := range helmtest.Binaries(t) {
		for _, tc := range []struct {
			name, set, want string
		}{
			{"an unknown top-level key", "replicas=2", "replicas"},
			{"an unknown nested key", "recommender.gpus=2", "gpus"},
			{"a string for an integer", "replicaCount=two", "replicaCount"},
			{"a value outside an enum", "logFormat=xml", "logFormat"},
			{"a malformed duration", "leaderElection.leaseDuration=soon", "leaseDuration"},
			{"a namespace that is not a DNS label", "watchNamespaces={Rec_Sys}", "watchNamespaces"},
			{"a negative GPU count", "recommender.gpu.count=-1", "count"},
			{"an unknown storage type", "storage.type=hostPath", "type"},
			{"a PDB minAvailable that is not a number nor a percentage", "podDisruptionBudget.minAvailable=half", "minAvailable"},
			{"a negative PDB maxUnavailable", "podDisruptionBudget.maxUnavailable=-1", "maxUnavailable"},
			{"a PDB percentage over 100", "podDisruptionBudget.maxUnavailable=101%", "maxUnavailable"},
		} {
			t.Run(h.String()+"/"+tc.name, func(t *testing.T) {
				_, stderr, err := h.Run(t, "template", release, helmtest.Chart(t), "--set", tc.set)
				require.Error(t, err)
				require.Contains(t, stderr, "values don't meet the specifications of the schema")
				require.Contains(t, stderr, tc.want)
			})
		}
		t.Run(h.String()+"/two replicas without leader election", func(t *testing.T) {
			_, stderr, err := h.Run(t, "template", release, helmtest.Chart(t), "--set", "replicaCount=2,leaderElection.enabled=false")
			require.Error(t, err)
			require.Contains(t, stderr, "replicaCount > 1 needs leaderElection.enabled")
		})
		t.Run(h.String()+"/a PDB with both minAvailable and maxUnavailable", func(t *testing.T) {
			_, stderr, err := h.Run(t, "template", release, helmtest.Chart(t), "--set", "podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=1,podDisruptionBudget.maxUnavailable=1")
			require.Error(t, err)
			require.Contains(t, stderr, "podDisruptionBudget: set minAvailable or maxUnavailable, not both")
		})
	}
}

// TestDefaultRender keeps the default render in a golden file, so a
// change of what users install shows in review (-update rewrites it).
func TestDefaultRender(t *testing.T) {
	h := helmtest.Binaries(t)[0]
	out := h.Template(t)
	golden := filepath.Join("testdata", "default.golden.yaml")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out, "the default render changed: go test ./charts -run TestDefaultRender -update")
}

// TestSchemaDefaultsAreTheValues checks that the schema's defaults, which
// the values table of docs/install.md shows, are values.yaml's.
func TestSchemaDefaultsAreTheValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(helmtest.Chart(t), "values.yaml"))
	require.NoError(t, err)
	var values map[string]any
	require.NoError(t, yaml.Unmarshal(data, &values))
	data, err = os.ReadFile(filepath.Join(helmtest.Chart(t), "values.schema.json"))
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(data, &schema))
	seen := 0
	var walk func(path string, s map[string]any, v any)
	walk = func(path string, s map[string]any, v any) {
		if def, ok := s["default"]; ok {
			seen++
			require.Equal(t, def, v, "default of %s", path)
			return
		}
		props, _ := s["properties"].(map[string]any)
		vm, ok := v.(map[string]any)
		require.True(t, ok, "%s is an object in values.yaml", path)
		require.Len(t, vm, len(props), "%s: values.yaml and the schema have the same keys", path)
		for k, sub := range props {
			walk(strings.TrimPrefix(path+"."+k, "."), sub.(map[string]any), vm[k])
		}
	}
	walk("", schema, values)
	require.Greater(t, seen, 50)
}
