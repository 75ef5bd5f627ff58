package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/atomicfile"
)

// ClusterwideMarker keeps a namespaced right cluster-wide when the chart
// restricts drill serve to some namespaces: a read the code does across
// every namespace (a drain lists the pods of a node wherever they run). It
// narrows where a right is granted, never adds one: each must also be
// granted by a +kubebuilder:rbac marker.
const ClusterwideMarker = "+firedrill:rbac:clusterwide:"

// grant is one verb on one resource of one API group.
type grant struct{ group, resource, verb string }

// grants is a set of grants.
type grants map[grant]bool

// scope says whether a resource (subresources by their parent) is
// namespaced. A resource missing here fails generation: whoever adds a
// marker for a new kind says where its rights belong.
var scope = map[string]bool{
	"/nodes": false, "/namespaces": false, "/persistentvolumes": false,
	"authentication.k8s.io/tokenreviews": false, "authorization.k8s.io/subjectaccessreviews": false,
	"rbac.authorization.k8s.io/clusterroles": false, "rbac.authorization.k8s.io/clusterrolebindings": false,
	"apiextensions.k8s.io/customresourcedefinitions": false, "storage.k8s.io/storageclasses": false,

	"/pods": true, "/services": true, "/events": true, "/endpoints": true, "/configmaps": true,
	"/secrets": true, "/serviceaccounts": true, "/persistentvolumeclaims": true,
	"apps/deployments": true, "apps/statefulsets": true, "apps/daemonsets": true, "apps/replicasets": true,
	"policy/poddisruptionbudgets": true, "discovery.k8s.io/endpointslices": true,
	"networking.k8s.io/networkpolicies": true, "coordination.k8s.io/leases": true,
	"gateway.networking.k8s.io/httproutes": true, "gateway.networking.k8s.io/grpcroutes": true,
	"chaos-mesh.org/podchaos": true, "chaos-mesh.org/networkchaos": true, "chaos-mesh.org/iochaos": true,
	"chaos-mesh.org/stresschaos": true, "chaos-mesh.org/timechaos": true,
	"firedrill.dev/drillplans": true, "firedrill.dev/drillruns": true,
}

func kindKey(group, resource string) string {
	base, _, _ := strings.Cut(resource, "/")
	return group + "/" + base
}

// ruleSets are the rules the chart's templates include.
type ruleSets struct {
	// All is every right, for a ClusterRole when every namespace is served.
	All []rbacv1.PolicyRule
	// Cluster is the ClusterRole's share when namespaces are restricted:
	// cluster-scoped kinds and the cluster-wide reads.
	Cluster []rbacv1.PolicyRule
	// Namespaced goes into a Role in each served namespace.
	Namespaced []rbacv1.PolicyRule
	// LeaderElection goes into a Role in the Lease's namespace: the rights
	// of the leader election's own markers (pkg/controller/cluster).
	LeaderElection []rbacv1.PolicyRule
}

// grantsOf expands a role's rules into grants.
func grantsOf(role *rbacv1.ClusterRole) (grants, error) {
	out := grants{}
	for _, r := range role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			return nil, fmt.Errorf("rule %v: resourceNames and nonResourceURLs are not supported", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out[grant{g, res, v}] = true
				}
			}
		}
	}
	return out, nil
}

// split sorts the rights of role into the chart's rule sets; leader holds
// the leader election's own rights, which must be among role's.
func split(role, leader *rbacv1.ClusterRole, clusterwide grants) (ruleSets, error) {
	all, err := grantsOf(role)
	if err != nil {
		return ruleSets{}, err
	}
	le, err := grantsOf(leader)
	if err != nil {
		return ruleSets{}, err
	}
	cluster, namespaced := grants{}, grants{}
	var errs []string
	for g := range all {
		ns, ok := scope[kindKey(g.group, g.resource)]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s in group %q: its scope is unknown; add it to the scope table of hack/chart/rbac.go", g.resource, g.group))
			continue
		}
		switch {
		case !ns:
			cluster[g] = true
		case clusterwide[g]:
			cluster[g] = true
		default:
			namespaced[g] = true
		}
	}
	for g := range le {
		if ns := scope[kindKey(g.group, g.resource)]; !ns || !all[g] {
			errs = append(errs, fmt.Sprintf("leader election: %s %s in group %q must be a namespaced right of the role", g.verb, g.resource, g.group))
		}
	}
	for g := range clusterwide {
		if !all[g] {
			errs = append(errs, fmt.Sprintf("%s%s %s in group %q: no +kubebuilder:rbac marker grants it", ClusterwideMarker, g.verb, g.resource, g.group))
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return ruleSets{}, fmt.Errorf("splitting the RBAC rules:\n  %s", strings.Join(errs, "\n  "))
	}
	return ruleSets{All: rules(all), Cluster: rules(cluster), Namespaced: rules(namespaced), LeaderElection: rules(le)}, nil
}

// rules groups grants into rules: one per group and set of verbs, with its
// resources, sorted.
func rules(gs grants) []rbacv1.PolicyRule {
	byRes := map[[2]string][]string{} // group, resource -> verbs
	for g := range gs {
		k := [2]string{g.group, g.resource}
		byRes[k] = append(byRes[k], g.verb)
	}
	byVerbs := map[[2]string][]string{} // group, verbs -> resources
	for k, verbs := range byRes {
		slices.Sort(verbs)
		v := [2]string{k[0], strings.Join(verbs, ";")}
		byVerbs[v] = append(byVerbs[v], k[1])
	}
	out := make([]rbacv1.PolicyRule, 0, len(byVerbs))
	for k, res := range byVerbs {
		slices.Sort(res)
		out = append(out, rbacv1.PolicyRule{APIGroups: []string{k[0]}, Resources: res, Verbs: strings.Split(k[1], ";")})
	}
	slices.SortFunc(out, func(a, b rbacv1.PolicyRule) int {
		if c := strings.Compare(a.APIGroups[0], b.APIGroups[0]); c != 0 {
			return c
		}
		return strings.Compare(a.Resources[0], b.Resources[0])
	})
	return out
}

var markerArgs = regexp.MustCompile(`^\s*//\s*` + regexp.QuoteMeta(ClusterwideMarker) + `(\S+)\s*$`)

// readClusterwide reads the clusterwide markers of the Go files in dirs
// (not recursively).
func readClusterwide(dirs []string) (grants, error) {
	out := grants{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, f := range files {
			if err := readMarkers(f, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func readMarkers(file string, out grants) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		if !strings.Contains(sc.Text(), ClusterwideMarker) {
			continue
		}
		m := markerArgs.FindStringSubmatch(sc.Text())
		if m == nil {
			return fmt.Errorf("%s:%d: malformed marker: want // %sgroups=G,resources=R;R,verbs=V;V", file, line, ClusterwideMarker)
		}
		gs, err := parseMarker(m[1])
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, line, err)
		}
		for g := range gs {
			out[g] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	return nil
}

// parseMarker parses groups=G;G,resources=R;R,verbs=V;V as the rbac
// markers write them ("" is the core group).
func parseMarker(args string) (grants, error) {
	vals := map[string][]string{}
	for _, kv := range strings.Split(args, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || (k != "groups" && k != "resources" && k != "verbs") {
			return nil, fmt.Errorf("marker argument %q: want groups=, resources= or verbs=", kv)
		}
		for _, s := range strings.Split(v, ";") {
			vals[k] = append(vals[k], strings.Trim(s, `"`))
		}
	}
	for _, k := range []string{"groups", "resources", "verbs"} {
		if len(vals[k]) == 0 {
			return nil, fmt.Errorf("marker %q: %s= is missing", args, k)
		}
	}
	out := grants{}
	for _, g := range vals["groups"] {
		for _, r := range vals["resources"] {
			for _, v := range vals["verbs"] {
				if r == "" || v == "" {
					return nil, fmt.Errorf("marker %q: empty resource or verb", args)
				}
				out[grant{g, r, v}] = true
			}
		}
	}
	return out, nil
}

// template renders the rule sets as the named templates the chart's RBAC
// templates include.
func template(rs ruleSets) []byte {
	var b bytes.Buffer
	b.WriteString(`{{- /*
Code generated by hack/chart (make chart) from the +kubebuilder:rbac and
+firedrill:rbac:clusterwide markers of drill serve's code. DO NOT EDIT: change
the markers and run make chart.
*/ -}}
`)
	for _, s := range []struct {
		name, doc string
		rules     []rbacv1.PolicyRule
	}{
		{"firedrill.rbac.allRules", "Every right drill serve's code uses: a ClusterRole when every namespace is served.", rs.All},
		{"firedrill.rbac.clusterRules", "The ClusterRole when namespaces are restricted: cluster-scoped kinds and the cluster-wide reads.", rs.Cluster},
		{"firedrill.rbac.namespacedRules", "A Role in each served namespace when namespaces are restricted.", rs.Namespaced},
		{"firedrill.rbac.leaderElectionRules", "A Role in the leader Lease's namespace when namespaces are restricted.", rs.LeaderElection},
	} {
		fmt.Fprintf(&b, "\n{{- /* %s */ -}}\n{{- define %q }}\n", s.doc, s.name)
		for _, r := range s.rules {
			groups := make([]string, len(r.APIGroups))
			for i, g := range r.APIGroups {
				groups[i] = fmt.Sprintf("%q", g)
			}
			fmt.Fprintf(&b, "- apiGroups: [%s]\n  resources: [%s]\n  verbs: [%s]\n",
				strings.Join(groups, ", "), strings.Join(r.Resources, ", "), strings.Join(r.Verbs, ", "))
		}
		b.WriteString("{{- end }}\n")
	}
	return b.Bytes()
}

// readRole reads the ClusterRole controller-gen wrote.
func readRole(path string) (*rbacv1.ClusterRole, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the generated role: %w", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(bytes.TrimPrefix(data, []byte("---\n")), role); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	if len(role.Rules) == 0 {
		return nil, fmt.Errorf("%s has no rules", path)
	}
	return role, nil
}

func writeRBAC(rolePath, leaderPath string, markerDirs []string, out string) error {
	role, err := readRole(rolePath)
	if err != nil {
		return err
	}
	leader, err := readRole(leaderPath)
	if err != nil {
		return err
	}
	cw, err := readClusterwide(markerDirs)
	if err != nil {
		return err
	}
	rs, err := split(role, leader, cw)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(out, template(rs), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}
