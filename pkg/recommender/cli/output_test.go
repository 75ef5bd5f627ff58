package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/pkg/cmd/output"
)

// executeStreams runs cmd with args and returns its stdout and stderr
// apart.
func executeStreams(t *testing.T, cmd *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// decode parses out, in the given format, strictly into v.
func decode(t *testing.T, format, out string, v any) {
	t.Helper()
	b := []byte(out)
	if format == string(output.YAML) {
		var err error
		b, err = yaml.YAMLToJSON(b)
		require.NoError(t, err, out)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), out)
	require.False(t, dec.More(), "stdout carries one result and nothing else")
}

// evalOutput is what eval prints with -o json|yaml, without the fit times.
type evalOutput struct {
	Splits []struct {
		Split      string `json:"split"`
		K          int    `json:"k"`
		Users      int    `json:"users"`
		TrainPairs int    `json:"trainPairs"`
		TestPairs  int    `json:"testPairs"`
		Results    []struct {
			Model  string  `json:"model"`
			NDCG   float64 `json:"ndcg"`
			Recall float64 `json:"recall"`
			Train  int64   `json:"train"`
		} `json:"results"`
	} `json:"splits"`
	Tuning *struct {
		Models []struct {
			Model  string            `json:"model"`
			NDCG   float64           `json:"ndcg"`
			Recall float64           `json:"recall"`
			Trials int               `json:"trials"`
			Tuned  bool              `json:"tuned"`
			Params map[string]string `json:"params"`
		} `json:"models"`
		Users           int    `json:"users"`
		TrainPairs      int    `json:"trainPairs"`
		ValidationPairs int    `json:"validationPairs"`
		Elapsed         int64  `json:"elapsed"`
		Budget          int64  `json:"budget"`
		Stop            string `json:"stop"`
	} `json:"tuning"`
}

// withoutFitTimes zeroes the volatile fit times.
func (e evalOutput) withoutFitTimes() evalOutput {
	for i := range e.Splits {
		for j := range e.Splits[i].Results {
			e.Splits[i].Results[j].Train = 0
		}
	}
	return e
}

// writeBYOData writes a small interactions.csv without timestamps, which
// --tune auto tunes.
func writeBYOData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("user,item,weight\n")
	for u := range 40 {
		for i := range 6 {
			b.WriteString("u" + string(rune('a'+u%26)) + strings.Repeat("x", u/26) + ",sku-" + string(rune('a'+(u+i*3)%20)) + ",1\n")
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "interactions.csv"), []byte(b.String()), 0o644))
	return dir
}

func TestMachineOutputCarriesOnlyTheResultOnStdout(t *testing.T) {
	tmp := t.TempDir()
	dataDir := filepath.Join(tmp, "data")
	_, _, err := executeStreams(t, NewGenCommand(), "--users", "300", "--items", "200", "--seed", "3", "--out", dataDir)
	require.NoError(t, err)
	small := []string{"--data", dataDir, "--split", "user", "--factors", "8", "--iterations", "3", "--workers", "2"}

	var asJSON evalOutput
	t.Run("eval -o json prints the report as JSON and nothing else", func(t *testing.T) {
		stdout, stderr, err := executeStreams(t, NewEvalCommand(), append([]string{"-o", "json"}, small...)...)
		require.NoError(t, err)
		decode(t, string(output.JSON), stdout, &asJSON)
		require.Len(t, asJSON.Splits, 1)
		require.Equal(t, "user", asJSON.Splits[0].Split)
		var models []string
		for _, r := range asJSON.Splits[0].Results {
			models = append(models, r.Model)
		}
		require.Subset(t, models, []string{"popularity", "itemknn", "als"})
		require.Nil(t, asJSON.Tuning, "generated data is not tuned")
		require.Empty(t, stderr, "no progress without tuning, and the tables are replaced by the document")
	})

	t.Run("eval -o yaml prints the same report as YAML", func(t *testing.T) {
		stdout, _, err := executeStreams(t, NewEvalCommand(), append([]string{"--output", "yaml"}, small...)...)
		require.NoError(t, err)
		var asYAML evalOutput
		decode(t, string(output.YAML), stdout, &asYAML)
		require.Equal(t, asJSON.withoutFitTimes(), asYAML.withoutFitTimes())
	})

	t.Run("eval --json still prints JSON and says it is deprecated on stderr", func(t *testing.T) {
		stdout, stderr, err := executeStreams(t, NewEvalCommand(), append([]string{"--json"}, small...)...)
		require.NoError(t, err)
		var got evalOutput
		decode(t, string(output.JSON), stdout, &got)
		require.Equal(t, asJSON.withoutFitTimes(), got.withoutFitTimes())
		require.Contains(t, stderr, "Flag --json has been deprecated, use -o json instead")
	})

	t.Run("train -o json prints the saved model", func(t *testing.T) {
		modelDir := filepath.Join(tmp, "model")
		stdout, stderr, err := executeStreams(t, NewTrainCommand(), "-o", "json", "--data", dataDir, "--out", modelDir, "--factors", "8", "--iterations", "3")
		require.NoError(t, err)
		var got struct {
			Dir   string `json:"dir"`
			Model struct {
				Version string             `json:"version"`
				Metrics map[string]float64 `json:"metrics"`
				Params  map[string]string  `json:"params"`
			} `json:"model"`
			Evaluation json.RawMessage `json:"evaluation"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
		require.Equal(t, modelDir, got.Dir)
		require.NotEmpty(t, got.Model.Version)
		require.Contains(t, got.Model.Metrics, "als/ndcg@10")
		require.Equal(t, "8", got.Model.Params["als.factors"])
		require.NotEmpty(t, got.Evaluation)
		require.Contains(t, stderr, "Read 6082 interactions", "progress goes to stderr")
		require.Contains(t, stderr, "Trained on all data in ")
		require.NotContains(t, stderr, "Saved model", "the result is the document")
	})

	t.Run("train keeps its progress on stderr with text output too", func(t *testing.T) {
		modelDir := filepath.Join(tmp, "model-text")
		stdout, stderr, err := executeStreams(t, NewTrainCommand(), "--data", dataDir, "--out", modelDir, "--factors", "8", "--iterations", "3")
		require.NoError(t, err)
		require.Regexp(t, `(?s)^Evaluated in \S+\n  user split: .*Recommendations rank by \w+ \(chosen by .+\)\nSaved model \S+ \(\d+ users, \d+ items\) to `+regexp.QuoteMeta(modelDir)+` in \S+\n$`, stdout)
		require.Regexp(t, `(?s)^Read \d+ interactions .*\nTrained on all data in `, stderr)
	})

	t.Run("gen -o yaml prints the data hash and statistics", func(t *testing.T) {
		stdout, stderr, err := executeStreams(t, NewGenCommand(), "-o", "yaml", "--users", "400", "--items", "300", "--seed", "7", "--out", filepath.Join(tmp, "gen"))
		require.NoError(t, err)
		checkGolden(t, "gen-yaml.golden", strings.ReplaceAll(stdout, tmp, "TMP"))
		require.Empty(t, stderr)
	})

	t.Run("import -o json prints what was imported", func(t *testing.T) {
		out := filepath.Join(tmp, "ml")
		stdout, _, err := executeStreams(t, NewImportCommand(), "movielens", movieLensFixture, "--out", out, "-o", "json")
		require.NoError(t, err)
		var got importResult
		decode(t, string(output.JSON), stdout, &got)
		require.Equal(t, importResult{
			Source: movieLensFixture, Dir: out, DataHash: "65f973754649c74fb944668aa94007e85555d3da5b3db7851f96af2a0a4dcb02",
			Interactions: 6, Users: 3, Items: 5,
		}, got)
	})
}

func TestEvalOutputSaysWhichTunedSettingsItUsed(t *testing.T) {
	// Bring-your-own data is tuned; a one-second budget ends the search
	// early, and the result still names the settings that were evaluated.
	stdout, stderr, err := executeStreams(t, NewEvalCommand(), "--data", writeBYOData(t), "-o", "json", "--tune-budget", "1s",
		"--factors", "4", "--iterations", "2", "--workers", "2")
	require.NoError(t, err)
	var got evalOutput
	decode(t, string(output.JSON), stdout, &got)
	require.NotNil(t, got.Tuning)
	require.Contains(t, []string{"budget", "completed"}, got.Tuning.Stop)
	require.Equal(t, int64(1e9), got.Tuning.Budget)
	var als bool
	for _, m := range got.Tuning.Models {
		if m.Model == "als" {
			als = true
			require.NotEmpty(t, m.Params["als.factors"])
			require.NotEmpty(t, m.Params["als.regularization"])
		}
	}
	require.True(t, als)
	require.Equal(t, "Tuning on a validation split of the training part (budget 1s) ...\n", stderr, "progress goes to stderr")
}

func TestEvalTextOutputHasTheTuningTableAndProgressApart(t *testing.T) {
	stdout, stderr, err := executeStreams(t, NewEvalCommand(), "--data", writeBYOData(t), "--tune-budget", "1s",
		"--factors", "4", "--iterations", "2", "--workers", "2")
	require.NoError(t, err)
	require.Regexp(t, `(?s)^Tuned in \S+ of 1s, stopped: (budget|completed)\n  validation split: .*\n    als .*\nEvaluated \d+ interactions .*  user split: `, stdout)
	require.Equal(t, "Tuning on a validation split of the training part (budget 1s) ...\n", stderr)
}

func TestOutputFlagRejectsUnknownFormats(t *testing.T) {
	tests := []struct {
		name string
		cmd  *cobra.Command
		args []string
	}{
		{"gen", NewGenCommand(), []string{"--out", t.TempDir()}},
		{"train", NewTrainCommand(), []string{"--data", "d", "--out", "m"}},
		{"eval", NewEvalCommand(), []string{"--data", "d"}},
		{"import movielens", NewImportCommand(), []string{"movielens", "d", "--out", "o"}},
	}
	t.Run("eval --json with another format", func(t *testing.T) {
		_, _, err := executeStreams(t, NewEvalCommand(), "--data", "d", "--json", "-o", "yaml")
		require.ErrorContains(t, err, "--json means --output json; it cannot be combined with --output yaml")
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := executeStreams(t, tt.cmd, append(tt.args, "-o", "xml")...)
			require.ErrorContains(t, err, `--output must be text, json or yaml, got "xml"`)
		})
	}
}
