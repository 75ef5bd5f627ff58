package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSplit(t *testing.T) {
	role := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete", "get", "list"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}}
	leader := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
	}}
	for _, tc := range []struct {
		name        string
		role        *rbacv1.ClusterRole
		leader      *rbacv1.ClusterRole
		clusterwide grants
		want        ruleSets
		err         string
	}{
		{
			name:        "cluster-scoped kinds and the cluster-wide reads go to the ClusterRole, the rest to the Roles",
			role:        role,
			leader:      leader,
			clusterwide: grants{{"", "pods", "get"}: true, {"", "pods", "list"}: true},
			want: ruleSets{
				All: []rbacv1.PolicyRule{
					{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status"}, Verbs: []string{"get", "patch"}},
					{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete", "get", "list"}},
					{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
					{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
				},
				Cluster: []rbacv1.PolicyRule{
					{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/status"}, Verbs: []string{"get", "patch"}},
					{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
					{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
				},
				Namespaced: []rbacv1.PolicyRule{
					{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"delete"}},
					{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
				},
				LeaderElection: []rbacv1.PolicyRule{
					{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get"}},
				},
			},
		},
		{
			name:        "a cluster-wide marker cannot add a right",
			role:        role,
			leader:      leader,
			clusterwide: grants{{"", "pods", "watch"}: true},
			err:         `watch pods in group "": no +kubebuilder:rbac marker grants it`,
		},
		{
			name:   "the leader election's rights must be namespaced rights of the role",
			role:   role,
			leader: &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"delete"}}}},
			err:    `leader election: delete leases in group "coordination.k8s.io" must be a namespaced right of the role`,
		},
		{
			name: "a kind of unknown scope fails generation",
			role: &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{"example.com"}, Resources: []string{"widgets"}, Verbs: []string{"get"}}}},
			err:  `widgets in group "example.com": its scope is unknown`,
		},
		{
			name: "resource names are refused",
			role: &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"a"}, Verbs: []string{"get"}}}},
			err:  "resourceNames and nonResourceURLs are not supported",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.leader == nil {
				tc.leader = &rbacv1.ClusterRole{}
			}
			got, err := split(tc.role, tc.leader, tc.clusterwide)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestReadClusterwide(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      grants
		err       string
	}{
		{
			name: "a marker grants each group, resource and verb",
			src:  "package x\n\n// +firedrill:rbac:clusterwide:groups=\"\";apps,resources=pods,verbs=get;list\n",
			want: grants{{"", "pods", "get"}: true, {"", "pods", "list"}: true, {"apps", "pods", "get"}: true, {"apps", "pods", "list"}: true},
		},
		{
			name: "an unknown argument is an error with its line",
			src:  "package x\n\n// +firedrill:rbac:clusterwide:groups=\"\",resources=pods,verbs=get,namespace=a\n",
			err:  "x.go:3: marker argument \"namespace=a\"",
		},
		{
			name: "a missing argument is an error",
			src:  "package x\n// +firedrill:rbac:clusterwide:groups=\"\",verbs=get\n",
			err:  "resources= is missing",
		},
		{
			name: "a marker with spaces is malformed",
			src:  "package x\n// +firedrill:rbac:clusterwide:groups=\"\", resources=pods\n",
			err:  "x.go:2: malformed marker",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x.go"), []byte(tc.src), 0o644))
			got, err := readClusterwide([]string{dir})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestValuesTable(t *testing.T) {
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "values.schema.json")
	require.NoError(t, os.WriteFile(schemaPath, []byte(`{"type": "object", "properties": {
  "replicaCount": {"type": "integer", "description": "Replicas.", "default": 1},
  "image": {"type": "object", "properties": {
    "pullPolicy": {"type": "string", "description": "Pull | policy.", "enum": ["Always", "Never"], "default": "Always"}}},
  "resources": {"type": "object", "description": "Resources.", "properties": {"limits": {"type": "object"}}, "default": {"limits": {"cpu": "1"}}},
  "watch": {"type": "array", "items": {"type": "string"}, "description": "Namespaces.", "default": []}}}`), 0o644))
	docPath := filepath.Join(dir, "install.md")
	require.NoError(t, os.WriteFile(docPath, []byte("# Install\n\n"+tableBegin+"\nstale\n"+tableEnd+"\n\nafter\n"), 0o644))
	require.NoError(t, writeValuesDoc(schemaPath, docPath))
	got, err := os.ReadFile(docPath)
	require.NoError(t, err)
	require.Equal(t, "# Install\n\n"+tableBegin+"\n\n"+strings.Join([]string{
		"| Key | Type | Default | Description |",
		"|---|---|---|---|",
		"| `replicaCount` | integer | `1` | Replicas. |",
		"| `image.pullPolicy` | string (\"Always\", \"Never\") | `\"Always\"` | Pull \\| policy. |",
		"| `resources` | object | `{\"limits\":{\"cpu\":\"1\"}}` | Resources. |",
		"| `watch` | array of string | `[]` | Namespaces. |",
	}, "\n")+"\n\n"+tableEnd+"\n\nafter\n", string(got))

	require.NoError(t, os.WriteFile(schemaPath, []byte(`{"type": "object", "properties": {"x": {"type": "integer", "default": 1}}}`), 0o644))
	require.ErrorContains(t, writeValuesDoc(schemaPath, docPath), "x has no description")
	require.NoError(t, os.WriteFile(docPath, []byte("no markers\n"), 0o644))
	require.NoError(t, os.WriteFile(schemaPath, []byte(`{"type": "object", "properties": {}}`), 0o644))
	require.ErrorContains(t, writeValuesDoc(schemaPath, docPath), "has no")
}
