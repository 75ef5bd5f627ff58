package runlock

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/plan"
)

// unitPlan is a plan named unit against the local platform.
func unitPlan(t *testing.T) *plan.Plan {
	t.Helper()
	text := `apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: unit}
spec:
  target: {platform: local}
  load: {rate: 50, timeout: 300ms, requests: [{name: root, path: /}]}
  objectives:
    rto: 30s
    recovered: {successRate: "99", latencyP99: 250ms, for: 1s}
  steps:
    - {name: baseline, wait: 2s}
`
	plans, problems := (&plan.Loader{}).LoadBytes("unit.yaml", []byte(text))
	require.Empty(t, problems)
	require.Len(t, plans, 1)
	return plans[0]
}

func TestASecondRunOfAPlanAgainstTheSameTargetIsRefused(t *testing.T) {
	dir := t.TempDir()
	p := unitPlan(t)
	first, err := Acquire(dir, p, "fake", "first-run")
	require.NoError(t, err)
	_, err = Acquire(dir, p, "fake", "second-run")
	require.ErrorContains(t, err, "plan unit is already running against the same target as run first-run")
	first.Release()
	second, err := Acquire(dir, p, "fake", "second-run")
	require.NoError(t, err, "a finished (or dead) holder never blocks")
	second.Release()

	other := &plan.Plan{DrillPlan: p.DeepCopy()}
	other.Spec.Target.Context = "west"
	a, err := Acquire(dir, p, "fake", "a")
	require.NoError(t, err)
	defer a.Release()
	b, err := Acquire(dir, other, "fake", "b")
	require.NoError(t, err, "the same plan against another target runs")
	b.Release()
}
