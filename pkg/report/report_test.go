package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/slo"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
func at(t time.Time) *metav1.MicroTime     { m := metav1.NewMicroTime(t); return &m }

func stats(requests, failures int64, avail string, p99 time.Duration) v1alpha1.WindowStats {
	return v1alpha1.WindowStats{Requests: requests, Failures: failures, Availability: v1alpha1.Percent(avail), P99: metav1.Duration{Duration: p99}}
}

func rto(target, measured string, pass bool, reason string) v1alpha1.ObjectiveVerdict {
	v := v1alpha1.ObjectiveVerdict{Objective: "rto", Target: target, Measured: measured, Verdict: v1alpha1.VerdictFail, Reason: reason}
	if pass {
		v.Verdict = v1alpha1.VerdictPass
	}
	return v
}

// sample builds a report with a passing pod kill, a timed cutover with a
// failover and a fail-back, and an exec fault that never recovered, with
// fixed instants so the rendered output is stable.
func sample() *Report {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	inj := t0.Add(30 * time.Second)
	kill := &v1alpha1.FaultResult{
		Type: "podKill", Targets: []v1alpha1.FaultTarget{{Kind: "pod", Name: "us-east-2"}}, Injected: at(inj), Verdict: v1alpha1.VerdictPass,
		Failover: &v1alpha1.Recovery{
			Start: at(inj), End: at(inj.Add(20 * time.Second)), Recovered: true, CapacityTracked: true, Verdict: v1alpha1.VerdictPass,
			Instants:   v1alpha1.RecoveryInstants{Impact: at(inj.Add(40 * time.Millisecond)), Replaced: at(inj.Add(time.Second)), Ready: at(inj.Add(2300 * time.Millisecond)), Serving: at(inj.Add(60 * time.Millisecond)), Recovered: at(inj.Add(80 * time.Millisecond))},
			ServiceRTO: dur(80 * time.Millisecond), CapacityRTO: dur(2300 * time.Millisecond), RecoveryTime: dur(2300 * time.Millisecond),
			Window:   stats(500, 2, "99.6", 41*time.Millisecond),
			Verdicts: []v1alpha1.ObjectiveVerdict{rto("30s", "2.3s", true, "recovered in 2.3s")},
		},
		Window: &v1alpha1.WindowStats{Requests: 500, Failures: 2, Availability: "99.6", P99: metav1.Duration{Duration: 41 * time.Millisecond}},
	}
	cinj := inj.Add(30 * time.Second)
	rev := cinj.Add(10 * time.Second)
	cutover := &v1alpha1.FaultResult{
		Type: "regionCutover", Targets: []v1alpha1.FaultTarget{{Kind: "region", Name: "us-east", Region: "us-east"}},
		Injected: at(cinj), Reverted: at(rev), Verdict: v1alpha1.VerdictPass,
		Failover: &v1alpha1.Recovery{
			Start: at(cinj), End: at(rev), Recovered: true, CapacityTracked: true, Verdict: v1alpha1.VerdictPass,
			Instants:   v1alpha1.RecoveryInstants{Ready: at(cinj), Recovered: at(cinj)},
			ServiceRTO: dur(0), CapacityRTO: dur(0), RecoveryTime: dur(0),
			Window:   stats(500, 0, "100", 56*time.Millisecond),
			Verdicts: []v1alpha1.ObjectiveVerdict{rto("30s", "0s", true, "recovered in 0s")},
		},
		Failback: &v1alpha1.Recovery{
			Start: at(rev), End: at(rev.Add(8 * time.Second)), Recovered: true, CapacityTracked: true, Verdict: v1alpha1.VerdictPass,
			Instants:   v1alpha1.RecoveryInstants{Impact: at(rev.Add(5 * time.Millisecond)), Ready: at(rev.Add(1520 * time.Millisecond)), Serving: at(rev.Add(5 * time.Millisecond)), Recovered: at(rev.Add(5 * time.Millisecond))},
			ServiceRTO: dur(5 * time.Millisecond), CapacityRTO: dur(1520 * time.Millisecond), RecoveryTime: dur(1520 * time.Millisecond),
			Window:   stats(400, 0, "100", 20*time.Millisecond),
			Verdicts: []v1alpha1.ObjectiveVerdict{{Objective: "failbackRTO", Target: "30s", Measured: "1.52s", Verdict: v1alpha1.VerdictPass, Reason: "recovered in 1.52s"}},
		},
		Notes: []string{"the front door failed over to us-west"},
	}
	einj := cinj.Add(time.Minute)
	outage := &v1alpha1.FaultResult{
		Type: "exec", Targets: []v1alpha1.FaultTarget{{Kind: "action", Name: "dns"}}, Injected: at(einj), Verdict: v1alpha1.VerdictFail,
		Reverted: at(einj.Add(45 * time.Second)),
		Failover: &v1alpha1.Recovery{
			Start: at(einj.Add(-8 * time.Millisecond)), End: at(einj.Add(45 * time.Second)), Verdict: v1alpha1.VerdictFail,
			Instants: v1alpha1.RecoveryInstants{Impact: at(einj.Add(-8 * time.Millisecond))},
			Window:   stats(2250, 2250, "0", time.Second),
			Verdicts: []v1alpha1.ObjectiveVerdict{rto("30s", "not recovered", false, "did not recover before the end of observation (45s after the start)")},
			Notes:    []string{"no fully observed 3s window met the recovered criteria before the end of observation"},
		},
		Window: &v1alpha1.WindowStats{Requests: 2250, Failures: 2250, Availability: "0", P99: metav1.Duration{Duration: time.Second}},
		Actions: []v1alpha1.ActionResult{
			{Phase: "inject", StartTime: at(einj.Add(-12 * time.Millisecond)), CompletionTime: at(einj)},
			{Phase: "revert", StartTime: at(einj.Add(45*time.Second - 9*time.Millisecond)), CompletionTime: at(einj.Add(45 * time.Second)), Error: "exit status 1"},
		},
		Error: "revert: exit status 1",
	}
	return &Report{
		Schema: SchemaVersion, RunID: "quarterly-20261202-030000-000-abcd", Platform: "none", Endpoint: "http://127.0.0.1:8080",
		Plan: Plan{Name: "quarterly", Hash: "abc123", Spec: v1alpha1.DrillPlanSpec{
			Objectives: v1alpha1.Objectives{RTO: &metav1.Duration{Duration: 30 * time.Second}},
			Steps:      []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: 30 * time.Second}}},
		}},
		Series: []slo.Point{{At: t0, Requests: 50, P50: metav1.Duration{Duration: 5 * time.Millisecond}, P99: metav1.Duration{Duration: 9 * time.Millisecond}}},
		Tool:   Tool{Version: "v0.1.0", Commit: "deadbeef", GoVersion: "go1.26.8"},
		RunResult: v1alpha1.RunResult{
			Phase: v1alpha1.RunFailed, Verdict: v1alpha1.VerdictFail, StartTime: at(t0), CompletionTime: at(t0.Add(3 * time.Minute)),
			Baseline: &v1alpha1.CheckResult{Verdict: v1alpha1.VerdictPass, Verdicts: []v1alpha1.ObjectiveVerdict{{Objective: "availability", Target: "99%", Measured: "100%", Verdict: v1alpha1.VerdictPass}}},
			Overall:  &v1alpha1.CheckResult{Verdict: v1alpha1.VerdictFail, Verdicts: []v1alpha1.ObjectiveVerdict{{Objective: "availability", Target: "99%", Measured: "74.9%", Verdict: v1alpha1.VerdictFail}}},
			Steps: []v1alpha1.StepResult{
				{Name: "baseline", Kind: v1alpha1.StepWait, Phase: v1alpha1.RunSucceeded},
				{Name: "kill", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded, Fault: kill},
				{Name: "cutover", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded, Fault: cutover},
				{Name: "dns", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunFailed, Fault: outage},
			},
		},
		Samples: 9000,
		Cleanup: []string{"run old-run, step flag (exec on action/flag): reverted"},
	}
}

func TestRenderedFormats(t *testing.T) {
	r := sample()
	junit, err := JUnit(r)
	require.NoError(t, err)
	js, err := JSON(r)
	require.NoError(t, err)
	tests := []struct {
		name string
		got  []byte
	}{
		{name: "table.txt", got: []byte(Table(r))},
		{name: "report.md", got: Markdown(r)},
		{name: "junit.xml", got: junit},
		{name: "report.json", got: js},
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
	require.Equal(t, filepath.Join(root, "quarterly", "quarterly-20261202-030000-000-abcd"), dir)
	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	require.NoError(t, err)
	back, err := Read(data)
	require.NoError(t, err)
	require.Equal(t, r.RunID, back.RunID)
	require.Equal(t, *r.Steps[1].Fault.Failover.RecoveryTime, *back.Steps[1].Fault.Failover.RecoveryTime, "numbers survive the round trip")
	require.Contains(t, string(data), `"recoveryTime": "2.3s"`, "durations are Go duration strings")
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
		require.Equal(t, tt.want, (&Report{RunResult: v1alpha1.RunResult{Phase: tt.phase}}).ExitCode(), tt.phase)
	}
}

func TestFormatDuration(t *testing.T) {
	require.Equal(t, "80ms", FormatDuration(80*time.Millisecond))
	require.Equal(t, "12.5s", FormatDuration(12500*time.Millisecond))
	require.Equal(t, "1h1m1s", FormatDuration(time.Hour+time.Minute+time.Second))
	require.Equal(t, "-", OptDuration(nil))
	require.Equal(t, "never", Since(nil, time.Time{}))
}
