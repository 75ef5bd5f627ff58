package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigFile holds that firedrill.yaml sets only keys some drill
// command reads, each once, to a value its flag accepts; anything else
// fails naming the file, line and key, and nothing runs.
func TestConfigFile(t *testing.T) {
	tests := []struct {
		name   string
		config string
		args   []string
		env    map[string]string
		// wantCode 0 expects wantOut on stdout; 2 expects each of
		// wantErr (FILE is the config's path) on stderr and nothing on
		// stdout.
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{name: "a key of the command itself applies", config: "output: json\n", wantOut: `"version": "dev"`},
		{name: "a key of another command is accepted", config: "report-dir: /tmp/reports\nshow: true\nendpoint: false\noutput: yaml\n", wantOut: "version: dev"},
		{name: "a key of the root command is accepted", config: "log-level: debug\nlog-format: json\n", wantOut: "drill dev"},
		{name: "an empty file sets nothing", config: "", wantOut: "drill dev"},
		{name: "a file of comments sets nothing", config: "# output: json\n", wantOut: "drill dev"},
		{name: "a null value leaves the default", config: "output:\n", wantOut: "drill dev"},
		{name: "unknown FIREDRILL_ variables are not checked", config: "output: yaml\n", env: map[string]string{"FIREDRILL_NO_SUCH_KEY": "1"}, wantOut: "version: dev"},
		{name: "a misspelt key fails naming the closest key and every valid one", config: "output: json\nlog-levl: debug\n", wantCode: 2,
			wantErr: []string{"config FILE is invalid; nothing was run", `FILE:2:1: unknown key "log-levl" (did you mean "log-level"?)`, "\nvalid keys: "}},
		{name: "keys are case-sensitive", config: "Output: json\n", wantCode: 2, wantErr: []string{`FILE:1:1: unknown key "Output" (did you mean "output"?)`}},
		{name: "a flag of the recommender is not a key", config: "model-dir: /tmp/model\n", wantCode: 2, wantErr: []string{`FILE:1:1: unknown key "model-dir"`}},
		{name: "a flag of the hidden front door is not a key", config: "health-interval: 1s\n", wantCode: 2, wantErr: []string{`FILE:1:1: unknown key "health-interval"`}},
		{name: "config cannot be set in the config file", config: "config: other.yaml\n", wantCode: 2,
			wantErr: []string{"FILE:1:1: config: --config names the config file; it cannot be set in it"}},
		{name: "a number must be a number", config: "kube-qps: fast\n", wantCode: 2, wantErr: []string{`FILE:1:11: kube-qps: must be a number, got "fast"`}},
		{name: "an integer must be an integer", config: "kube-burst: 1.5\n", wantCode: 2, wantErr: []string{`FILE:1:13: kube-burst: must be an integer, got "1.5"`}},
		{name: "a duration needs a unit", config: "timeout: 10\n", wantCode: 2, wantErr: []string{`FILE:1:10: timeout: must be a duration (90s, 10m, 1h30m), got "10"`}},
		{name: "yes is not a boolean", config: "dry-run: yes\n", wantCode: 2, wantErr: []string{`FILE:1:10: dry-run: must be true or false, got "yes"`}},
		{name: "an output format must be one drill knows", config: "output: xml\n", wantCode: 2,
			wantErr: []string{`FILE:1:9: output: --output must be text, json or yaml, got "xml"`}},
		{name: "a log level must be one drill knows", config: "log-level: loud\n", wantCode: 2, wantErr: []string{`FILE:1:12: log-level: unknown log level "loud"`}},
		{name: "a list is not a value", config: "state-dir: [a, b]\n", wantCode: 2, wantErr: []string{"FILE:1:12: state-dir: must be a single value, got a list"}},
		{name: "a mapping is not a value", config: "output:\n  format: json\n", wantCode: 2, wantErr: []string{"FILE:2:3: output: must be a single value, got a mapping"}},
		{name: "a key set twice fails", config: "output: json\noutput: yaml\n", wantCode: 2, wantErr: []string{"FILE:2:1: output: set twice (first on line 1)"}},
		{name: "every problem is reported at once", config: "output: json\nlog-levl: debug\nkube-qps: fast\n", wantCode: 2,
			wantErr: []string{`FILE:2:1: unknown key "log-levl"`, `FILE:3:11: kube-qps: must be a number, got "fast"`}},
		{name: "the file must be a mapping", config: "- output\n", wantCode: 2, wantErr: []string{"FILE:1:1: must be a mapping of keys to values, got a list"}},
		{name: "the file holds one document", config: "output: json\n---\noutput: yaml\n", wantCode: 2, wantErr: []string{"FILE:2:1: only one YAML document is allowed"}},
		{name: "a syntax error names the line", config: "output: [json\n", wantCode: 2, wantErr: []string{"reading config FILE: yaml: line 1:"}},
		{name: "a bad file stops validate too", config: "shwo: true\n", args: []string{"validate", "../../drills/quickstart.yaml"}, wantCode: 2,
			wantErr: []string{`FILE:1:1: unknown key "shwo" (did you mean "show"?)`}},
		{name: "a bad file stops the sandbox commands too", config: "endpiont: true\n", args: []string{"sandbox", "status", "--state-dir", "/nonexistent"}, wantCode: 2,
			wantErr: []string{`FILE:1:1: unknown key "endpiont" (did you mean "endpoint"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(tt.config), 0o644))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if args == nil {
				args = []string{"version"}
			}
			out, errOut, code := execute(t, "", append([]string{"--config", cfg}, args...)...)
			require.Equal(t, tt.wantCode, code, out+errOut)
			if tt.wantCode == 0 {
				require.Contains(t, out, tt.wantOut)
				return
			}
			require.Empty(t, out, "nothing ran")
			for _, want := range tt.wantErr {
				require.Contains(t, errOut, strings.ReplaceAll(want, "FILE", cfg))
			}
		})
	}
}

// TestConfigKeys holds that the keys are the flags of every command that
// reads its flags through the config, and nothing else.
func TestConfigKeys(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("no-such-key: 1\n"), 0o644))
	_, errOut, code := execute(t, "", "--config", cfg, "version")
	require.Equal(t, 2, code)
	_, list, ok := strings.Cut(errOut, "valid keys: ")
	require.True(t, ok, errOut)
	keys := strings.Split(strings.TrimSpace(list), ", ")
	require.IsIncreasing(t, keys)
	for _, k := range []string{
		"log-level", "log-format", // drill
		"output", "show", // validate
		"report-dir", "run-id", "resume", "dry-run", "kubeconfig", "context", "kube-qps", "kube-burst", // run, cleanup
		"state-dir", "background", "keep-state", "timeout", "endpoint", // sandbox
	} {
		require.Contains(t, keys, k)
	}
	for _, k := range []string{"config", "help", "model-dir", "addr", "health-interval"} {
		require.NotContains(t, keys, k, "%s is not read from the config", k)
	}
}

// TestConfigFileIsFound holds that firedrill.yaml is read from the working
// directory, then from $HOME/.config/firedrill, and checked wherever it is.
func TestConfigFileIsFound(t *testing.T) {
	home, work := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(work)
	out, _, code := execute(t, "", "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "drill dev", "no file: the defaults")

	dir := filepath.Join(home, ".config", "firedrill")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "firedrill.yaml"), []byte("output: yaml\n"), 0o644))
	out, _, _ = execute(t, "", "version")
	require.Contains(t, out, "version: dev", "the file in $HOME/.config/firedrill")

	require.NoError(t, os.WriteFile("firedrill.yaml", []byte("output: json\n"), 0o644))
	out, _, _ = execute(t, "", "version")
	require.Contains(t, out, `"version": "dev"`, "the working directory's file wins")

	require.NoError(t, os.WriteFile("firedrill.yaml", []byte("outptu: json\n"), 0o644))
	out, errOut, code := execute(t, "", "version")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, `firedrill.yaml:1:1: unknown key "outptu" (did you mean "output"?)`)
}
