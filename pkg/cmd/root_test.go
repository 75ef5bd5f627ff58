package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/testing/golden"
	"github.com/firedrill/firedrill/pkg/version"
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

// requireOneDocument holds that out is one JSON or YAML document and
// nothing else.
func requireOneDocument(t *testing.T, f output.Format, out string) {
	t.Helper()
	var v any
	switch f {
	case output.JSON:
		require.NoError(t, json.Unmarshal([]byte(out), &v), "stdout is one JSON document:\n%s", out)
	case output.YAML:
		dec := yaml.NewDecoder(strings.NewReader(out))
		require.NoError(t, dec.Decode(&v), "stdout is a YAML document:\n%s", out)
		require.ErrorIs(t, dec.Decode(&v), io.EOF, "stdout is one YAML document:\n%s", out)
	}
}

func TestValidateCommand(t *testing.T) {
	const bad = "testdata/bad-plan.yaml"
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		golden   string
		wantOut  string
		wantErr  string
	}{
		{name: "every example plan is valid", args: []string{"validate", "../../drills"}, golden: "validate-drills.txt"},
		{name: "problems exit 1 naming file line and field", args: []string{"validate", bad}, wantCode: 1, golden: "validate-problems.txt",
			wantOut: bad + `:7:5: spec.load.burst: unknown field "burst"`},
		{name: "json output is for machines", args: []string{"validate", "-o", "json", "../../drills/gpu-pod-kill.yaml"}, golden: "validate-json.txt"},
		{name: "yaml output is the same document", args: []string{"validate", "-o", "yaml", "../../drills/gpu-pod-kill.yaml"}, golden: "validate-yaml.txt"},
		{name: "json output carries every problem", args: []string{"validate", "-o", "json", bad, "../../drills/quickstart.yaml"}, wantCode: 1,
			golden: "validate-problems-json.txt"},
		{name: "show prints defaults", args: []string{"validate", "--show", "../../drills/gpu-pod-kill.yaml"}, golden: "validate-show.txt"},
		{name: "show with json puts each defaulted plan in the document", args: []string{"validate", "--show", "-o", "json", "../../drills/gpu-pod-kill.yaml"},
			golden: "validate-show-json.txt"},
		{name: "show with yaml puts each defaulted plan in the document", args: []string{"validate", "--show", "-o", "yaml", "../../drills/gpu-pod-kill.yaml"},
			golden: "validate-show-yaml.txt"},
		{name: "show with problems lists the problems", args: []string{"validate", "--show", bad}, wantCode: 1, golden: "validate-problems.txt"},
		{name: "stdin is read for a dash", args: []string{"validate", "-"}, stdin: "kind: DrillPlan\n", wantCode: 1,
			wantOut: `<stdin>:1:1: apiVersion: required: must be "firedrill.dev/v1alpha1"`},
		{name: "a bad output format is a usage error naming the formats", args: []string{"validate", "-o", "xml", "../../drills"}, wantCode: 2,
			wantErr: `--output must be text, json or yaml, got "xml"`},
		{name: "no arguments is a usage error", args: []string{"validate"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := execute(t, tt.stdin, tt.args...)
			require.Equal(t, tt.wantCode, code, out+errOut)
			if tt.golden != "" {
				golden.Assert(t, filepath.Join("testdata", tt.golden), []byte(out))
			}
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errOut, tt.wantErr)
			if code < 2 {
				require.Empty(t, errOut, "a result goes to stdout only")
				requireOneDocument(t, formatOf(tt.args), out)
			}
		})
	}
}

// formatOf is the -o value in args.
func formatOf(args []string) output.Format {
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			return output.Format(args[i+1])
		}
	}
	return output.Text
}

// normalizeVersion replaces what depends on the toolchain, the machine
// and the checkout.
func normalizeVersion(s string) string {
	info := version.Get()
	return strings.NewReplacer(info.GoVersion, "GOVERSION", info.Platform, "OS/ARCH", info.Commit, "COMMIT").Replace(s)
}

// TestVersionCommand holds that drill version reads -o like every command:
// from the flag, FIREDRILL_OUTPUT or firedrill.yaml.
func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		env    string
		config string
		golden string
	}{
		{name: "text by default", args: []string{"version"}, golden: "version.txt"},
		{name: "json with -o json", args: []string{"version", "-o", "json"}, golden: "version-json.txt"},
		{name: "yaml with -o yaml", args: []string{"version", "-o", "yaml"}, golden: "version-yaml.txt"},
		{name: "the config file sets the format", args: []string{"version"}, config: "output: json\n", golden: "version-json.txt"},
		{name: "the environment beats the file", args: []string{"version"}, config: "output: json\n", env: "yaml", golden: "version-yaml.txt"},
		{name: "a flag beats the environment", args: []string{"version", "-o", "text"}, config: "output: json\n", env: "yaml", golden: "version.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.config != "" {
				cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
				require.NoError(t, os.WriteFile(cfg, []byte(tt.config), 0o644))
				args = append([]string{"--config", cfg}, args...)
			}
			if tt.env != "" {
				t.Setenv("FIREDRILL_OUTPUT", tt.env)
			}
			out, errOut, code := execute(t, "", args...)
			require.Equal(t, 0, code, errOut)
			require.Empty(t, errOut)
			golden.Assert(t, filepath.Join("testdata", tt.golden), []byte(normalizeVersion(out)))
		})
	}
	out, _, _ := execute(t, "", "version", "-o", "json")
	var info version.Info
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Equal(t, version.Get(), info, "the document is the build's Info")
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
