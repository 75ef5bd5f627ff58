package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// execute runs cmd with args and returns its output.
func executeCommand(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

var durationRE = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b`)

// golden compares got, with durations normalised, to testdata/name.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	got = durationRE.ReplaceAllString(got, "<duration>")
	golden.Assert(t, filepath.Join("testdata", name), []byte(got))
}

func TestGenTrainEvalEndToEnd(t *testing.T) {
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	modelDir := filepath.Join(tmp, "model")

	out, err := executeCommand(t, NewGenCommand(), "--users", "400", "--items", "300", "--seed", "7", "--out", dataDir)
	require.NoError(t, err)
	checkGolden(t, "gen.golden", strings.ReplaceAll(out, dataDir, "DIR"))

	out, err = executeCommand(t, NewTrainCommand(), "--data", dataDir, "--out", modelDir, "--factors", "8", "--iterations", "3")
	require.NoError(t, err)
	require.Contains(t, out, "user split:")
	require.Contains(t, out, "time split:")
	require.Contains(t, out, "Saved model ")
	require.NotContains(t, out, "Tuning", "--tune auto leaves generated data alone")
	require.FileExists(t, filepath.Join(dataDir, "generator.json"))

	m, err := model.Load(modelDir)
	require.NoError(t, err)
	defer m.Close()
	md := m.Metadata()
	require.Contains(t, md.Metrics, "als/ndcg@10")
	require.Contains(t, md.Metrics, "time/itemknn/recall@10")
	require.Equal(t, "8", md.Params["als.factors"])

	out, err = executeCommand(t, NewEvalCommand(), "--data", dataDir, "--factors", "8", "--iterations", "3", "--split", "user")
	require.NoError(t, err)
	require.Contains(t, out, "NDCG@10")
	require.NotContains(t, out, "time split")

	_, err = executeCommand(t, NewTrainCommand(), "--data", dataDir, "--out", modelDir, "--factors", "8", "--iterations", "1", "--skip-eval")
	require.Error(t, err, "an existing artifact is never overwritten")
}

func TestTrainOnBringYourOwnData(t *testing.T) {
	dataDir := t.TempDir()
	var b strings.Builder
	b.WriteString("user,item,weight\n")
	for u := range 30 {
		for i := range 6 {
			b.WriteString("user")
			b.WriteString(string(rune('a' + u%26)))
			b.WriteString(strings.Repeat("x", u/26))
			b.WriteString(",sku-")
			b.WriteString(string(rune('a' + (u+i*3)%20)))
			b.WriteString(",1\n")
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "interactions.csv"), []byte(b.String()), 0o644))
	modelDir := filepath.Join(t.TempDir(), "m")
	out, err := executeCommand(t, NewTrainCommand(), "--data", dataDir, "--out", modelDir, "--factors", "4", "--iterations", "2", "--tune-budget", "1s")
	require.NoError(t, err, out)
	require.NotContains(t, out, "time split", "no timestamps, no time split")
	require.Contains(t, out, "Tuning on a validation split", "--tune auto tunes bring-your-own data")
	require.Regexp(t, `Recommendations rank by (als|itemknn|ease|popularity) \(chosen by validation NDCG@10\)`, out)
	m, err := model.Load(modelDir)
	require.NoError(t, err)
	defer m.Close()
	require.True(t, m.KnownUser("usera"))
	require.Len(t, m.Recommend("usera", 3), 3)
	_, _, queries := m.Sample(3)
	require.Empty(t, queries, "without titles, categories or queries there is nothing to sample")
	md := m.Metadata()
	require.Contains(t, md.Params, "tune.stop")
	require.Equal(t, m.Recommender(), md.Params["recommender"])
	require.Equal(t, "validation NDCG@10", md.Params["recommender.by"])
}

func TestCommandsReportBadInput(t *testing.T) {
	dataDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "interactions.csv"), []byte("user,item,weight\na,b,lots\n"), 0o644))
	tests := []struct {
		name string
		cmd  *cobra.Command
		args []string
		want string
	}{
		{"gen without --out", NewGenCommand(), nil, "--out is required"},
		{"gen with a bad start date", NewGenCommand(), []string{"--out", t.TempDir(), "--start", "soon"}, "parsing --start"},
		{"train without flags", NewTrainCommand(), nil, "--data is required\n--out is required"},
		{"train on a malformed CSV", NewTrainCommand(), []string{"--data", dataDir, "--out", filepath.Join(t.TempDir(), "m")},
			`interactions.csv:2: column 3 (weight): invalid weight "lots"`},
		{"eval without --data", NewEvalCommand(), nil, "--data is required"},
		{"train with an unknown recommender", NewTrainCommand(), []string{"--data", dataDir, "--out", "x", "--recommender", "magic"},
			`--recommender must be auto, als, itemknn, ease or popularity, got "magic"`},
		{"train with a bad tune mode", NewTrainCommand(), []string{"--data", dataDir, "--out", "x", "--tune=sometimes"}, `--tune must be auto, on or off`},
		{"train with no tuning budget", NewTrainCommand(), []string{"--data", dataDir, "--out", "x", "--tune-budget", "0s"}, "--tune-budget must be positive"},
		{"train with a bad EASE mode", NewTrainCommand(), []string{"--data", dataDir, "--out", filepath.Join(t.TempDir(), "m"), "--ease", "maybe", "--tune=off"},
			`ease mode must be auto, on or off, got "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := executeCommand(t, tt.cmd, tt.args...)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
