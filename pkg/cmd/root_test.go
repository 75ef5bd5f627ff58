package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func execute(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand(Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil && !exitcode.IsReported(err) {
		errOut.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitcode.Of(err)
}

func TestValidateCommand(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: bad}
spec:
  load:
    rate: 50
    burst: 10
  steps:
    - {name: a, wait: 1s}
`), 0o644))
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		golden   string
		wantOut  string
	}{
		{name: "every example plan is valid", args: []string{"validate", "../../drills"}, golden: "validate-drills.txt"},
		{name: "an unknown field exits 1 naming file line and field", args: []string{"validate", bad}, wantCode: 1,
			wantOut: bad + `:7:5: spec.load.burst: unknown field "burst"`},
		{name: "json output is for machines", args: []string{"validate", "-o", "json", "../../drills/gpu-pod-kill.yaml"}, golden: "validate-json.txt"},
		{name: "show prints defaults", args: []string{"validate", "--show", "../../drills/gpu-pod-kill.yaml"}, golden: "validate-show.txt"},
		{name: "stdin is read for a dash", args: []string{"validate", "-"}, stdin: "kind: DrillPlan\n", wantCode: 1,
			wantOut: `<stdin>:1:1: apiVersion: required: must be "firedrill.dev/v1alpha1"`},
		{name: "a bad output format is a usage error", args: []string{"validate", "-o", "xml", "../../drills"}, wantCode: 2},
		{name: "no arguments is a usage error", args: []string{"validate"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, code := execute(t, tt.stdin, tt.args...)
			require.Equal(t, tt.wantCode, code, out)
			if tt.golden != "" {
				golden.Assert(t, filepath.Join("testdata", tt.golden), []byte(out))
			}
			require.Contains(t, out, tt.wantOut)
		})
	}
}

func TestVersionCommand(t *testing.T) {
	out, _, code := execute(t, "", "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "drill dev\ncommit: ")
	require.Contains(t, out, "go: go1.")
	out, _, code = execute(t, "", "version", "-o", "json")
	require.Equal(t, 0, code)
	require.Contains(t, out, `"goVersion": "go1.`)
}

// TestConfigPrecedence holds that flags beat FIREDRILL_* variables, which
// beat firedrill.yaml, which beats defaults.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "firedrill.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("output: json\n"), 0o644))
	plan := "../../drills/gpu-pod-kill.yaml"

	out, _, code := execute(t, "", "validate", plan)
	require.Equal(t, 0, code)
	require.Contains(t, out, "is valid", "the default output is text")

	out, _, _ = execute(t, "", "--config", cfg, "validate", plan)
	require.Contains(t, out, `"valid": true`, "the file beats the default")

	t.Setenv("FIREDRILL_OUTPUT", "text")
	out, _, _ = execute(t, "", "--config", cfg, "validate", plan)
	require.Contains(t, out, "is valid", "the environment beats the file")

	out, _, _ = execute(t, "", "--config", cfg, "validate", "-o", "json", plan)
	require.Contains(t, out, `"valid": true`, "a flag beats the environment")

	_, errOut, code := execute(t, "", "--config", filepath.Join(dir, "missing.yaml"), "validate", plan)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "reading config")
}

func TestCompletion(t *testing.T) {
	out, _, code := execute(t, "", "completion", "bash")
	require.Equal(t, 0, code)
	require.Contains(t, out, "bash completion V2 for drill")
}

func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRootCommand(Streams{})
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" || c.Hidden {
			continue
		}
		require.NotEmpty(t, c.Example, "drill %s --help needs examples", c.Name())
		require.NotEmpty(t, c.Short, "drill %s needs a short description", c.Name())
	}
}
