package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func dur(d time.Duration) *time.Duration { return &d }
func at(t time.Time) *time.Time          { return &t }

// sample builds a report with one passing and one failing fault, with
// fixed instants so the rendered output is stable.
func sample() *Report {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	inj := t0.Add(30 * time.Second)
	kill := &Fault{
		Type: "podKill", Targets: []platform.Target{{Kind: "pod", Name: "us-east-2"}}, Injected: inj,
		Result: slo.FaultResult{
			Name: "kill", Recovered: true, Pass: true, CapacityTracked: true,
			Instants:   slo.Instants{Injected: inj, Impact: at(inj.Add(40 * time.Millisecond)), Replaced: at(inj.Add(time.Second)), Ready: at(inj.Add(2300 * time.Millisecond)), Serving: at(inj.Add(60 * time.Millisecond)), Recovered: at(inj.Add(80 * time.Millisecond))},
			ServiceRTO: dur(80 * time.Millisecond), CapacityRTO: dur(2300 * time.Millisecond), RecoveryTime: dur(2300 * time.Millisecond),
			Verdicts: []slo.Verdict{{Objective: "rto", Target: "30s", Measured: "2.3s", Pass: true, Reason: "recovered in 2.3s"}},
		},
		Window: slo.WindowStats{Requests: 500, Failures: 2, Availability: 99.6, P99: 41 * time.Millisecond},
	}
	outage := &Fault{
		Type: "exec", Targets: []platform.Target{{Kind: "action", Name: "dns"}}, Injected: inj.Add(time.Minute),
		Reverted: at(inj.Add(time.Minute + 45*time.Second)),
		Result: slo.FaultResult{
			Name:     "dns",
			Instants: slo.Instants{Injected: inj.Add(time.Minute), Impact: at(inj.Add(time.Minute + 20*time.Millisecond))},
			Verdicts: []slo.Verdict{{Objective: "rto", Target: "30s", Measured: "not recovered", Pass: false, Reason: "did not recover"}},
		},
		Window:  slo.WindowStats{Requests: 2250, Failures: 2250, Availability: 0, P99: time.Second},
		Actions: []Action{{Phase: "inject", Duration: 12 * time.Millisecond}, {Phase: "revert", Duration: 9 * time.Millisecond, Error: "exit status 1"}},
		Notes:   []string{"the front door failed over to us-west"},
	}
	return &Report{
		Schema: SchemaVersion, RunID: "quarterly-20261202T030000Z", Platform: "none", Endpoint: "http://127.0.0.1:8080",
		Plan:  Plan{Name: "quarterly", Hash: "abc123", Spec: v1alpha1.DrillPlanSpec{Objectives: v1alpha1.Objectives{RTO: &metav1.Duration{Duration: 30 * time.Second}}}},
		Tool:  Tool{Version: "v0.1.0", Commit: "deadbeef", GoVersion: "go1.26.8"},
		Phase: v1alpha1.RunFailed, Verdict: v1alpha1.VerdictFail, Started: t0, Finished: t0.Add(3 * time.Minute), Samples: 9000,
		Baseline: &Check{Pass: true, Verdicts: []slo.Verdict{{Objective: "availability", Target: "99%", Measured: "100%", Pass: true}}},
		Overall:  Check{Verdicts: []slo.Verdict{{Objective: "availability", Target: "99%", Measured: "74.9%", Pass: false}}},
		Steps: []Step{
			{Name: "baseline", Kind: "wait", Phase: v1alpha1.RunSucceeded},
			{Name: "kill", Kind: "fault", Phase: v1alpha1.RunSucceeded, Fault: kill},
			{Name: "dns", Kind: "fault", Phase: v1alpha1.RunFailed, Fault: outage},
		},
		Cleanup: []string{"run old-run, step flag (exec on action/flag): reverted"},
	}
}

func TestRenderedFormats(t *testing.T) {
	r := sample()
	junit, err := JUnit(r)
	require.NoError(t, err)
	tests := []struct {
		name string
		got  []byte
	}{
		{name: "table.txt", got: []byte(Table(r))},
		{name: "report.md", got: Markdown(r)},
		{name: "junit.xml", got: junit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden.Assert(t, filepath.Join("testdata", tt.name), tt.got)
		})
	}
}

func TestWriteAndReadBack(t *testing.T) {
	root := t.TempDir()
	r := sample()
	dir, err := Write(root, r)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "quarterly", "quarterly-20261202T030000Z"), dir)
	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	require.NoError(t, err)
	back, err := Read(data)
	require.NoError(t, err)
	require.Equal(t, r.RunID, back.RunID)
	require.Equal(t, *r.Steps[1].Fault.Result.RecoveryTime, *back.Steps[1].Fault.Result.RecoveryTime, "numbers survive the round trip")
	require.Equal(t, 1, back.ExitCode())

	_, err = Read([]byte(`{"schema":"firedrill.dev/report/v0"}`))
	require.ErrorContains(t, err, "is not")
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		phase v1alpha1.RunPhase
		want  int
	}{
		{v1alpha1.RunSucceeded, 0}, {v1alpha1.RunFailed, 1}, {v1alpha1.RunAborted, 2}, {v1alpha1.RunError, 2},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, (&Report{Phase: tt.phase}).ExitCode(), tt.phase)
	}
}

func TestFormatDuration(t *testing.T) {
	require.Equal(t, "80ms", FormatDuration(80*time.Millisecond))
	require.Equal(t, "12.5s", FormatDuration(12500*time.Millisecond))
	require.Equal(t, "1h1m1s", FormatDuration(time.Hour+time.Minute+time.Second))
	require.Equal(t, "-", OptDuration(nil))
}
