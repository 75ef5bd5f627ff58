package engine

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/plan"
	"github.com/firedrill/firedrill/pkg/platform"
)

func TestRunIDsAreUniqueWithinOneInstant(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id := NewRunID("quarterly", t0)
		require.Regexp(t, regexp.MustCompile(`^quarterly-20261207-030000-000-[0-9a-f]{4}$`), id)
		seen[id] = true
	}
	require.Greater(t, len(seen), 150, "200 runs started in the same millisecond get distinct ids")
}

func TestStartRefusesAConcurrentRunAndAllowsTheOptOut(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	e, err := New(Options{JournalDir: t.TempDir(), Clock: clk})
	require.NoError(t, err)
	h := newHarness(t)
	p := h.plan(objectives + `  steps:
    - {name: baseline, wait: 2s}
`)
	r, _, err := e.prepare(t.Context(), p, RunOptions{Platform: platform.None{}, RunID: "one"})
	require.NoError(t, err)
	_, _, err = e.prepare(t.Context(), p, RunOptions{Platform: platform.None{}, RunID: "two"})
	require.ErrorContains(t, err, "as run one")
	r.lock.Release()

	opt := &plan.Plan{DrillPlan: p.DeepCopy()}
	opt.Spec.Safety.AllowConcurrentRuns = true
	_, _, err = e.prepare(t.Context(), opt, RunOptions{Platform: platform.None{}, RunID: "three"})
	require.NoError(t, err)
	_, _, err = e.prepare(t.Context(), opt, RunOptions{Platform: platform.None{}, RunID: "four"})
	require.NoError(t, err, "allowConcurrentRuns opts out")
}
