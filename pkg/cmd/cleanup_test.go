package cmd

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/cleanup"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// deadRun journals, under a new state directory, a run whose process is
// gone and which left two exec faults active: flag, whose revert removes
// the returned marker file, and stuck, whose revert fails.
func deadRun(t *testing.T) (stateDir, marker string) {
	t.Helper()
	stateDir, marker = t.TempDir(), filepath.Join(t.TempDir(), "fault-active")
	require.NoError(t, os.WriteFile(marker, nil, 0o644))
	// This process with another start time: a PID that was reused.
	dead := journal.Owner{PID: os.Getpid(), StartTicks: 1}
	j, err := journal.Create(filepath.Join(stateDir, "journal"), journal.Record{
		RunID: "crash-1", Plan: "crash", Platform: "none", Owner: dead, Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Spec: v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformNone}},
	}, nil)
	require.NoError(t, err)
	faults := []struct {
		id     string
		revert []string
	}{{"flag", []string{"rm", marker}}, {"stuck", []string{"false"}}}
	for _, f := range faults {
		spec := v1alpha1.Fault{Exec: &v1alpha1.ExecFault{Inject: v1alpha1.Action{Command: []string{"true"}}, Revert: &v1alpha1.Action{Command: f.revert}}}
		require.NoError(t, j.Begin(f.id, spec, []evidence.Target{{Kind: evidence.KindAction, Name: f.id}}))
		require.NoError(t, j.Set(f.id, journal.Active, ""))
	}
	return stateDir, marker
}

// TestCleanupCommand holds that drill cleanup lists the leftovers as text
// or, with -o json|yaml, as one document, with the same exit codes.
func TestCleanupCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// empty runs cleanup on a state directory without journals.
		empty       bool
		config      string
		format      output.Format // when the config file sets it
		wantCode    int
		golden      string
		wantErr     string
		wantTouched bool
	}{
		{name: "a dry run lists what would be reverted", args: []string{"--dry-run"}, golden: "cleanup-dry-run.txt"},
		{name: "a dry run as json", args: []string{"--dry-run", "-o", "json"}, golden: "cleanup-dry-run-json.txt"},
		{name: "a dry run as yaml", args: []string{"--dry-run", "-o", "yaml"}, golden: "cleanup-dry-run-yaml.txt"},
		{name: "a fault that cannot be reverted exits 1", args: nil, wantCode: 1, golden: "cleanup.txt", wantTouched: true},
		{name: "as json the document says which faults are still active", args: []string{"-o", "json"}, wantCode: 1, golden: "cleanup-json.txt",
			wantErr: "some faults are still active", wantTouched: true},
		{name: "as yaml too", args: []string{"-o", "yaml"}, wantCode: 1, golden: "cleanup-yaml.txt", wantErr: "some faults are still active", wantTouched: true},
		{name: "nothing left", empty: true, golden: "cleanup-none.txt"},
		{name: "nothing left as json", empty: true, args: []string{"-o", "json"}, golden: "cleanup-none-json.txt"},
		{name: "the config file's output applies", config: "output: yaml\ndry-run: true\n", format: output.YAML, golden: "cleanup-dry-run-yaml.txt"},
		{name: "a bad config file reverts nothing", config: "dryrun: true\n", wantCode: 2, wantErr: `unknown key "dryrun" (did you mean "dry-run"?)`},
		{name: "--grace is for --from-cluster only", args: []string{"--grace", "20s"}, wantCode: 2, wantErr: "--grace applies to --from-cluster only"},
		{name: "--namespace is for --from-cluster only", args: []string{"--namespace", "recsys"}, wantCode: 2, wantErr: "--namespace applies to --from-cluster only"},
		{name: "a grace shorter than two renewals would take live runs for dead", args: []string{"--from-cluster", "--grace", "5s"}, wantCode: 2,
			wantErr: "--grace 5s is shorter than 10s: a live run, which renews its heartbeat every 5s, would be taken for dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, marker := deadRun(t)
			if tt.empty {
				state = t.TempDir()
			}
			args := append([]string{"cleanup", "--state-dir", state}, tt.args...)
			if tt.config != "" {
				cfg := filepath.Join(t.TempDir(), "firedrill.yaml")
				require.NoError(t, os.WriteFile(cfg, []byte(tt.config), 0o644))
				args = append([]string{"--config", cfg}, args...)
			}
			out, errOut, code := execute(t, "", args...)
			require.Equal(t, tt.wantCode, code, out+errOut)
			if tt.golden != "" {
				golden.Assert(t, filepath.Join("testdata", tt.golden), []byte(strings.ReplaceAll(out, marker, "MARKER")))
				requireOneDocument(t, cmp.Or(tt.format, formatOf(args)), out)
			} else {
				require.Empty(t, out)
			}
			require.Contains(t, errOut, tt.wantErr)
			if tt.wantErr == "" {
				require.Empty(t, errOut, "a result goes to stdout only")
			}
			if tt.empty {
				return
			}
			if tt.wantTouched {
				require.NoFileExists(t, marker, "the revert ran")
			} else {
				require.FileExists(t, marker, "nothing was reverted")
			}
		})
	}
	t.Run("the json document decodes into the published type", func(t *testing.T) {
		state, _ := deadRun(t)
		out, _, code := execute(t, "", "cleanup", "--state-dir", state, "-o", "json")
		require.Equal(t, 1, code)
		var res cleanup.Result
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&res))
		require.Len(t, res.Leftovers, 2)
		require.Equal(t, []string{cleanup.StateReverted, cleanup.StateNotReverted}, []string{res.Leftovers[0].State, res.Leftovers[1].State})
		require.NotEmpty(t, res.Error)
	})
}
