package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/firedrill/firedrill/pkg/cmd"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/sandbox"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// fakeFrontDoor serves a front door's control API: GET /v1/state answers
// st, or fails when st is nil.
func fakeFrontDoor(t *testing.T, st *frontdoor.State) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/state" || st == nil {
			http.Error(w, "front door is restarting", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// writeState records, as a running sandbox does, a sandbox that this test
// process runs.
func writeState(t *testing.T, stateDir string, st local.State) {
	t.Helper()
	dir := filepath.Join(stateDir, "sandbox", sandbox.ID)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	data, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sandbox.json"), data, 0o644))
	got, err := local.ReadState(dir)
	require.NoError(t, err, "the file is where the sandbox writes it")
	require.Equal(t, st, got)
}

func execute(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cmd.NewRootCommand(cmd.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	if err != nil && !exitcode.IsReported(err) {
		errOut.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitcode.Of(err)
}

// TestStatus holds that drill sandbox status prints the sandbox as text
// or, with -o json|yaml, as one document, and --endpoint its URL.
func TestStatus(t *testing.T) {
	healthy := &frontdoor.State{
		Mode: frontdoor.ModeAuto, Primary: "east", Active: "east",
		Regions: []frontdoor.Region{
			{Name: "east", Backends: []frontdoor.Backend{
				{Name: "recommender-east-1", URL: "http://127.0.0.1:7001", Healthy: true},
				{Name: "recommender-east-2", URL: "http://127.0.0.1:7002"},
			}},
			{Name: "west", Backends: []frontdoor.Backend{{Name: "recommender-west-1", URL: "http://127.0.0.1:7101", Healthy: true}}},
		},
	}
	pinned := &frontdoor.State{Mode: frontdoor.ModeManual, Primary: "east", Pinned: "west", Active: "west",
		Regions: []frontdoor.Region{{Name: "east", Backends: []frontdoor.Backend{}}, {Name: "west", Backends: []frontdoor.Backend{}}}}
	tests := []struct {
		name      string
		frontDoor *frontdoor.State
		args      []string
		golden    string
		want      string
	}{
		{name: "text for people", frontDoor: healthy, golden: "status.txt"},
		{name: "json for machines", frontDoor: healthy, args: []string{"-o", "json"}, golden: "status-json.txt"},
		{name: "yaml for machines", frontDoor: healthy, args: []string{"-o", "yaml"}, golden: "status-yaml.txt"},
		{name: "a pinned region", frontDoor: pinned, golden: "status-pinned.txt"},
		{name: "without the front door the stores and the reason", args: []string{"-o", "json"}, golden: "status-no-front-door-json.txt"},
		{name: "without the front door as text", golden: "status-no-front-door.txt"},
		{name: "endpoint prints the bare URL", args: []string{"--endpoint"}, want: "http://127.0.0.1:7000\n"},
		{name: "endpoint with json is a JSON string", args: []string{"--endpoint", "-o", "json"}, want: "\"http://127.0.0.1:7000\"\n"},
		{name: "endpoint with yaml is a YAML string", args: []string{"--endpoint", "-o", "yaml"}, want: "http://127.0.0.1:7000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			control := fakeFrontDoor(t, tt.frontDoor)
			writeState(t, state, local.State{
				ID: sandbox.ID, Pid: os.Getpid(), Ready: true, Endpoint: "http://127.0.0.1:7000", Control: control,
				Stores: map[string]string{"west": "127.0.0.1:5101", "east": "127.0.0.1:5001"}, Model: "v20260102", Logs: filepath.Join(state, "logs"),
			})
			out, errOut, code := execute(t, append([]string{"sandbox", "status", "--state-dir", state}, tt.args...)...)
			require.Equal(t, 0, code, errOut)
			require.Empty(t, errOut, "a result goes to stdout only")
			if tt.want != "" {
				require.Equal(t, tt.want, out)
				return
			}
			pid := strconv.Itoa(os.Getpid())
			norm := strings.NewReplacer(control, "CONTROL", state, "STATE",
				"(pid "+pid+")", "(pid PID)", `"pid": `+pid+",", `"pid": PID,`, "pid: "+pid+"\n", "pid: PID\n").Replace(out)
			golden.Assert(t, filepath.Join("testdata", tt.golden), []byte(norm))
			if strings.Contains(tt.golden, "json") {
				var s sandbox.Status
				dec := json.NewDecoder(strings.NewReader(out))
				dec.DisallowUnknownFields()
				require.NoError(t, dec.Decode(&s))
				require.ErrorIs(t, dec.Decode(&s), io.EOF, "one document")
			}
			if strings.Contains(tt.golden, "yaml") {
				dec := yaml.NewDecoder(strings.NewReader(out))
				var v any
				require.NoError(t, dec.Decode(&v))
				require.ErrorIs(t, dec.Decode(&v), io.EOF, "one document")
			}
		})
	}
	t.Run("no sandbox running is an error", func(t *testing.T) {
		out, errOut, code := execute(t, "sandbox", "status", "--state-dir", t.TempDir(), "-o", "json")
		require.Equal(t, 2, code)
		require.Empty(t, out)
		require.Contains(t, errOut, "no sandbox is running")
	})
	t.Run("the config file's output applies", func(t *testing.T) {
		state := t.TempDir()
		writeState(t, state, local.State{ID: sandbox.ID, Pid: os.Getpid(), Ready: true, Endpoint: "http://127.0.0.1:7000", Control: fakeFrontDoor(t, healthy)})
		cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte("output: json\nstate-dir: "+state+"\n"), 0o644))
		out, errOut, code := execute(t, "--config", cfg, "sandbox", "status")
		require.Equal(t, 0, code, errOut)
		var s sandbox.Status
		require.NoError(t, json.Unmarshal([]byte(out), &s), "output and state-dir come from the file")
		require.Equal(t, "http://127.0.0.1:7000", s.Endpoints.FrontDoor)
	})
}
