package plans_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/controller/plansdir/plans"
)

func planYAML(name, extra string) string {
	return fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: none}
  system: {endpoint: "http://127.0.0.1:1"}
  load: {rate: 10, requests: [{path: /}]}
  objectives: {rto: 30s, recovered: {for: 1s}}
  steps:
    - {name: baseline, wait: 1s}
%s`, name, extra)
}

// TestReloadKeepsTheLastGoodVersion walks a directory through edits; each
// step is one Reload.
func TestReloadKeepsTheLastGoodVersion(t *testing.T) {
	dir := t.TempDir()
	path := func(f string) string { return filepath.Join(dir, f) }
	steps := []struct {
		name        string
		write       map[string]string
		remove      []string
		wantChanged []string
		wantRemoved []string
		// wantPlans are the plans by name, each with its file.
		wantPlans map[string]string
		// wantProblems are the files with a refused version.
		wantProblems []string
		// wantRefused are the files that provide no plan.
		wantRefused []string
	}{
		{name: "plan files are read, other files are not",
			write:       map[string]string{"a.yaml": planYAML("a", ""), "b.yml": planYAML("b", ""), ".c.yaml": planYAML("c", ""), "d.txt": planYAML("d", "")},
			wantChanged: []string{"a", "b"}, wantPlans: map[string]string{"a": "a.yaml", "b": "b.yml"}},
		{name: "an unchanged directory changes nothing",
			wantPlans: map[string]string{"a": "a.yaml", "b": "b.yml"}},
		{name: "a broken edit keeps the last good version, with its problems",
			write:     map[string]string{"a.yaml": planYAML("a", "  concurrencyPolicy: Sometimes\n")},
			wantPlans: map[string]string{"a": "a.yaml", "b": "b.yml"}, wantProblems: []string{"a.yaml"}},
		{name: "a name another file provides is refused",
			write:     map[string]string{"c.yaml": planYAML("b", "")},
			wantPlans: map[string]string{"a": "a.yaml", "b": "b.yml"}, wantProblems: []string{"a.yaml", "c.yaml"}, wantRefused: []string{"c.yaml"}},
		{name: "a removed file takes its plans away and the fixed edit is taken",
			write: map[string]string{"a.yaml": planYAML("a", "")}, remove: []string{"b.yml"},
			wantChanged: []string{"a", "b"}, wantRemoved: []string{"b"},
			wantPlans: map[string]string{"a": "a.yaml"}, wantProblems: []string{"c.yaml"}, wantRefused: []string{"c.yaml"}},
		{name: "a file renaming its plan removes the old name",
			write:       map[string]string{"a.yaml": planYAML("z", "")},
			wantChanged: []string{"a", "z"}, wantRemoved: []string{"a"},
			wantPlans: map[string]string{"z": "a.yaml"}, wantProblems: []string{"c.yaml"}, wantRefused: []string{"c.yaml"}},
	}
	d := plans.New(dir)
	for _, st := range steps {
		for f, content := range st.write {
			require.NoError(t, os.WriteFile(path(f), []byte(content), 0o600))
		}
		for _, f := range st.remove {
			require.NoError(t, os.Remove(path(f)))
		}
		var removed []string
		changed, err := d.Reload(t.Context(), func(name string) { removed = append(removed, name) })
		require.NoError(t, err, st.name)
		require.Equal(t, st.wantChanged, changed, st.name)
		require.Equal(t, st.wantRemoved, removed, st.name)
		got := map[string]string{}
		for p := range d.All() {
			got[p.Plan.Name] = filepath.Base(p.File)
			require.Same(t, p, d.Plan(p.Plan.Name), st.name)
		}
		require.Equal(t, st.wantPlans, got, st.name)
		require.Equal(t, len(st.wantPlans), d.Len(), st.name)
		var problems []string
		for _, f := range []string{"a.yaml", "b.yml", "c.yaml"} {
			if d.Problems(path(f)) != "" {
				problems = append(problems, f)
			}
		}
		require.Equal(t, st.wantProblems, problems, st.name)
		refused := map[string]string{}
		for f, p := range d.Refused() {
			refused[filepath.Base(f)] = p
		}
		require.Equal(t, st.wantRefused, slices.Sorted(maps.Keys(refused)), st.name)
		for f, p := range refused {
			require.Equal(t, d.Problems(path(f)), p, st.name)
		}
	}
	require.Contains(t, d.Problems(path("c.yaml")), path("c.yaml")+`: metadata.name: duplicate plan name "b" (also in `+path("b.yml")+")")
	require.Nil(t, d.Plan("b"))
}

func TestReloadOfAMissingDirectoryKeepsEveryPlan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plans")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(planYAML("a", "")), 0o600))
	d := plans.New(dir)
	_, err := d.Reload(t.Context(), func(string) { t.Fatal("nothing is removed") })
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(dir))
	_, err = d.Reload(t.Context(), func(string) { t.Fatal("nothing is removed") })
	require.ErrorContains(t, err, "reading the plans directory")
	require.NotNil(t, d.Plan("a"))
}
