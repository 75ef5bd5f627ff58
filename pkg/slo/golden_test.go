package slo

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// goldenResult is a FaultResult with every instant rendered relative to the
// injection, so golden files do not depend on the anchor date.
type goldenResult struct {
	Name            string            `json:"name"`
	Instants        map[string]string `json:"instants"`
	ServiceRTO      string            `json:"serviceRTO"`
	CapacityRTO     string            `json:"capacityRTO"`
	RecoveryTime    string            `json:"recoveryTime"`
	Recovered       bool              `json:"recovered"`
	RPO             string            `json:"rpo"`
	RPOFallback     bool              `json:"rpoFallback,omitempty"`
	CapacityTracked bool              `json:"capacityTracked"`
	Before          goldenStats       `json:"before"`
	During          goldenStats       `json:"during"`
	After           goldenStats       `json:"after"`
	Verdicts        []Verdict         `json:"verdicts"`
	Notes           []string          `json:"notes,omitempty"`
	Pass            bool              `json:"pass"`
}

type goldenStats struct {
	From         string `json:"from"`
	To           string `json:"to"`
	Requests     int    `json:"requests"`
	Failures     int    `json:"failures"`
	Timeouts     int    `json:"timeouts"`
	Slow         int    `json:"slow"`
	Availability string `json:"availability"`
	P50          string `json:"p50"`
	P90          string `json:"p90"`
	P99          string `json:"p99"`
	Max          string `json:"max"`
}

func render(res FaultResult) goldenResult {
	inj := res.Instants.Injected
	rel := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		if d := t.Sub(inj); d < 0 {
			return d.String()
		}
		return "+" + t.Sub(inj).String()
	}
	optDur := func(d *time.Duration) string {
		if d == nil {
			return "none"
		}
		return d.String()
	}
	stats := func(w WindowStats) goldenStats {
		return goldenStats{
			From: rel(&w.From), To: rel(&w.To),
			Requests: w.Requests, Failures: w.Failures, Timeouts: w.Timeouts, Slow: w.Slow,
			Availability: fmtPct(w.Availability),
			P50:          w.P50.String(), P90: w.P90.String(), P99: w.P99.String(), Max: w.Max.String(),
		}
	}
	ready := rel(res.Instants.Ready)
	if !res.CapacityTracked {
		ready = "not tracked"
	}
	return goldenResult{
		Name: res.Name,
		Instants: map[string]string{
			"injected":  rel(&inj),
			"impact":    rel(res.Instants.Impact),
			"replaced":  rel(res.Instants.Replaced),
			"ready":     ready,
			"serving":   rel(res.Instants.Serving),
			"recovered": rel(res.Instants.Recovered),
			"reverted":  rel(res.Instants.Reverted),
		},
		ServiceRTO: optDur(res.ServiceRTO), CapacityRTO: optDur(res.CapacityRTO), RecoveryTime: optDur(res.RecoveryTime),
		Recovered: res.Recovered, RPO: optDur(res.RPO), RPOFallback: res.RPOFallback,
		CapacityTracked: res.CapacityTracked,
		Before:          stats(res.Before), During: stats(res.During), After: stats(res.After),
		Verdicts: res.Verdicts, Notes: res.Notes, Pass: res.Pass,
	}
}

func loadScenario(t *testing.T, path string) scenario {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var sc scenario
	require.NoError(t, dec.Decode(&sc), "decoding %s", path)
	require.Positive(t, sc.Rate, "%s: rate", path)
	return sc
}

func TestAnalyzeFaultGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(strings.ReplaceAll(name, "-", " "), func(t *testing.T) {
			sc := loadScenario(t, path)
			res := AnalyzeFault(sc.input(name), sc.objectives())
			got, err := json.MarshalIndent(render(res), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden.Assert(t, filepath.Join("testdata", "golden", name+".json"), got)
		})
	}
}
