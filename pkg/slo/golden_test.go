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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// goldenResult is a Recovery with every instant rendered relative to the
// start, so golden files do not depend on the anchor date.
type goldenResult struct {
	Name            string                      `json:"name"`
	Start           string                      `json:"start"`
	End             string                      `json:"end"`
	Instants        map[string]string           `json:"instants"`
	ServiceRTO      string                      `json:"serviceRTO"`
	CapacityRTO     string                      `json:"capacityRTO"`
	RecoveryTime    string                      `json:"recoveryTime"`
	Recovered       bool                        `json:"recovered"`
	RPO             string                      `json:"rpo"`
	RPOFallback     bool                        `json:"rpoFallback,omitempty"`
	CapacityTracked bool                        `json:"capacityTracked"`
	Before          goldenStats                 `json:"before"`
	During          goldenStats                 `json:"during"`
	After           goldenStats                 `json:"after"`
	Verdicts        []v1alpha1.ObjectiveVerdict `json:"verdicts"`
	Notes           []string                    `json:"notes,omitempty"`
	Verdict         v1alpha1.Verdict            `json:"verdict"`
}

type goldenStats struct {
	From         string           `json:"from"`
	To           string           `json:"to"`
	Requests     int64            `json:"requests"`
	Failures     int64            `json:"failures"`
	Timeouts     int64            `json:"timeouts"`
	Slow         int64            `json:"slow"`
	Availability v1alpha1.Percent `json:"availability"`
	P50          string           `json:"p50"`
	P90          string           `json:"p90"`
	P99          string           `json:"p99"`
	Max          string           `json:"max"`
}

func render(name string, injected time.Time, res v1alpha1.Recovery) goldenResult {
	rel := func(t *metav1.MicroTime) string {
		if t == nil {
			return "never"
		}
		if d := t.Sub(injected); d < 0 {
			return d.String()
		}
		return "+" + t.Sub(injected).String()
	}
	optDur := func(d *metav1.Duration) string {
		if d == nil {
			return "none"
		}
		return d.Duration.String()
	}
	stats := func(w v1alpha1.WindowStats) goldenStats {
		return goldenStats{
			From: rel(w.From), To: rel(w.To),
			Requests: w.Requests, Failures: w.Failures, Timeouts: w.Timeouts, Slow: w.Slow,
			Availability: w.Availability,
			P50:          w.P50.Duration.String(), P90: w.P90.Duration.String(), P99: w.P99.Duration.String(), Max: w.Max.Duration.String(),
		}
	}
	ready := rel(res.Instants.Ready)
	if !res.CapacityTracked {
		ready = "not tracked"
	}
	return goldenResult{
		Name: name, Start: rel(res.Start), End: rel(res.End),
		Instants: map[string]string{
			"impact":    rel(res.Instants.Impact),
			"replaced":  rel(res.Instants.Replaced),
			"ready":     ready,
			"serving":   rel(res.Instants.Serving),
			"recovered": rel(res.Instants.Recovered),
		},
		ServiceRTO: optDur(res.ServiceRTO), CapacityRTO: optDur(res.CapacityRTO), RecoveryTime: optDur(res.RecoveryTime),
		Recovered: res.Recovered, RPO: optDur(res.RPO), RPOFallback: res.RPOFallback,
		CapacityTracked: res.CapacityTracked,
		Before:          stats(res.Before), During: stats(res.During), After: stats(res.After),
		Verdicts: res.Verdicts, Notes: res.Notes, Verdict: res.Verdict,
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
			in := sc.input(name)
			res := AnalyzeFault(in, sc.objectives())
			got, err := json.MarshalIndent(render(name, in.Start, res), "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden.Assert(t, filepath.Join("testdata", "golden", name+".json"), got)
		})
	}
}
