package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// execute runs `drill reports args...` the way the root command does:
// flags, then FIREDRILL_* environment, bound into one viper.
func execute(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	v := viper.New()
	root := &cobra.Command{
		Use: "drill", SilenceUsage: true, SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			v.SetEnvPrefix("FIREDRILL")
			v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
			v.AutomaticEnv()
			for _, fs := range []*pflag.FlagSet{c.Flags(), c.InheritedFlags()} {
				var err error
				fs.VisitAll(func(f *pflag.Flag) {
					if e := v.BindPFlag(f.Name, f); e != nil {
						err = e
					}
				})
				if err != nil {
					return err
				}
			}
			c.SetContext(log.IntoContext(c.Context(), log.Discard()))
			return nil
		},
	}
	root.AddCommand(NewCommand(v))
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"reports"}, args...))
	err := root.ExecuteContext(context.Background())
	if err != nil && !exitcode.IsReported(err) {
		errOut.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitcode.Of(err)
}

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// drill is run i of plan; slower stretches its first fault's outage.
func drill(plan string, i int, slower float64) *report.Report {
	return archivetest.Drill(archivetest.DrillOptions{
		Plan: plan, RunID: fmt.Sprintf("%s-202612%02d-030000-000-%04x", plan, 1+i, i), Start: t0.Add(time.Duration(i) * 24 * time.Hour),
		Duration: 3 * time.Minute, Rate: 20, Faults: 4, Seed: uint64(i), Slower: []float64{slower},
	})
}

// fixture archives five runs of nightly (the last one slower) and one of
// weekly, and returns the archive's directory.
func fixture(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "reports")
	a, err := archive.Open(root, archive.Options{})
	require.NoError(t, err)
	keep := filepath.Join(t.TempDir(), "keep")
	for i, slower := range []float64{1, 1.1, 0.9, 1, 3} {
		_, err := archive.Store(context.Background(), a, drill("nightly", i, slower), archive.StoreOptions{KeepDir: keep})
		require.NoError(t, err)
	}
	_, err = archive.Store(context.Background(), a, drill("weekly", 2, 1), archive.StoreOptions{KeepDir: keep})
	require.NoError(t, err)
	return root
}

// normal replaces the temporary archive directory in output.
func normal(s, root string) []byte { return []byte(strings.ReplaceAll(s, root, "$ARCHIVE")) }

func TestCommandsReadPeople(t *testing.T) {
	root := fixture(t)
	last := drill("nightly", 4, 3).RunID
	first := drill("nightly", 0, 1).RunID
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{name: "list", args: []string{"list"}, golden: "list.txt"},
		{name: "list of a plan, newest 2", args: []string{"list", "--plan", "nightly", "--limit", "2"}, golden: "list-plan.txt"},
		{name: "show", args: []string{"show", last}, golden: "show.txt"},
		{name: "diff", args: []string{"diff", first, last}, golden: "diff.txt"},
		{name: "trend", args: []string{"trend", "nightly"}, golden: "trend.txt"},
		{name: "verify", args: []string{"verify"}, golden: "verify.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := execute(t, append(tt.args, "--archive", root)...)
			require.Equal(t, 0, code, errOut)
			require.Empty(t, errOut)
			golden.Assert(t, "testdata/"+tt.golden, normal(out, root))
		})
	}
}

func TestMachineOutput(t *testing.T) {
	root := fixture(t)
	last := drill("nightly", 4, 3).RunID
	out, _, code := execute(t, "list", "-o", "json", "--archive", root)
	require.Equal(t, 0, code)
	var list listResult
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list.Runs, 6)
	require.Len(t, list.Runs[0].Faults, 4, "every fault's numbers are in the entries")

	out, _, code = execute(t, "show", "-o", "json", "--archive", root, last)
	require.Equal(t, 0, code)
	r, err := report.Read([]byte(out))
	require.NoError(t, err, "show -o json prints the report")
	require.Equal(t, last, r.RunID)

	out, _, code = execute(t, "trend", "-o", "yaml", "--archive", root, "nightly")
	require.Equal(t, 0, code)
	require.Contains(t, out, "regression: true")

	out, _, code = execute(t, "diff", "-o", "json", "--archive", root, drill("nightly", 0, 1).RunID, last)
	require.Equal(t, 0, code)
	var d diffResult
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.Len(t, d.Rows, 6, "four faults, two of them with a fail-back")
	require.NotNil(t, d.Rows[0].Change)
	require.Greater(t, *d.Rows[0].Change, 50.0, "the slower first fault")
}

func TestShowHTMLRendersTheStoredPageAgain(t *testing.T) {
	root := fixture(t)
	e := drill("nightly", 3, 1)
	out, errOut, code := execute(t, "show", "--html", "--archive", root, e.RunID)
	require.Equal(t, 0, code, errOut)
	stored, err := os.ReadFile(filepath.Join(root, "nightly", e.RunID, "report.html"))
	require.NoError(t, err)
	require.Equal(t, string(stored), out, "the trend of a run is the runs before it, so the page is the one archived")
	_, errOut, code = execute(t, "show", "--html", "-o", "json", "--archive", root, e.RunID)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--html writes HTML")
}

func TestDamagedReportsAreNamedAndSkipped(t *testing.T) {
	root := fixture(t)
	tampered := drill("nightly", 1, 1.1).RunID
	require.NoError(t, os.WriteFile(filepath.Join(root, "nightly", tampered, "report.json"), []byte(`{"verdict":"Pass"}`), 0o644))
	// A run directory that appeared without its SHA256SUMS: partial.
	partial := filepath.Join(root, "weekly", "weekly-half")
	require.NoError(t, os.MkdirAll(partial, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(partial, "report.json"), []byte("{"), 0o644))

	out, errOut, code := execute(t, "list", "--archive", root)
	require.Equal(t, 0, code)
	require.Equal(t, "warning: skipped weekly/weekly-half: partial report: SHA256SUMS is missing, so the set was never completed or was damaged\n", errOut)
	require.Equal(t, 7, strings.Count(out, "\n"), "the header and six runs")

	_, errOut, code = execute(t, "show", "--archive", root, tampered)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "error: nightly/"+tampered+": corrupt report: report.json: checksum mismatch")

	out, _, code = execute(t, "verify", "--archive", root)
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAILED  nightly/"+tampered+": corrupt report: report.json: checksum mismatch")
	require.Contains(t, out, "FAILED  weekly/weekly-half: partial report")
	require.Contains(t, out, "5 intact, 2 damaged in "+root)

	_, _, code = execute(t, "verify", "--archive", root, drill("nightly", 0, 1).RunID)
	require.Equal(t, 0, code, "the runs named are intact")
}

func TestLookupErrors(t *testing.T) {
	root := fixture(t)
	_, errOut, code := execute(t, "show", "--archive", root, "nope")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "run nope: no such run in the archive")
	_, errOut, code = execute(t, "trend", "--archive", root, "monthly")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "plan monthly has no runs in "+root)
	out, _, code := execute(t, "list", "--archive", filepath.Join(t.TempDir(), "empty"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "no runs in ")
}
