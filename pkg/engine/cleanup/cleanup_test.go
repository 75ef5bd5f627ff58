package cleanup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/action/actiontest"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/platform"
)

func TestCleanupRevertsWhatADeadRunLeft(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(t0)
	var ran []string
	actions := &actiontest.Runner{Clock: clk, Do: func(a *v1alpha1.Action, phase string, _ time.Time) error {
		ran = append(ran, phase+" "+strings.Join(a.Command, " "))
		return nil
	}}
	pf := newFakePlatform()
	dead := journal.Owner{PID: 999999, StartTicks: 1}
	exec := v1alpha1.Fault{Exec: &v1alpha1.ExecFault{
		Inject: v1alpha1.Action{Command: []string{"touch", "flag"}},
		Revert: &v1alpha1.Action{Command: []string{"rm", "flag"}},
	}}
	j, err := journal.Create(dir, journal.Record{RunID: "dead-run", Plan: "p", Platform: "fake", Owner: dead, Started: t0}, clk)
	require.NoError(t, err)
	require.NoError(t, j.Begin("flag", exec, []evidence.Target{{Kind: evidence.KindAction, Name: "flag"}}))
	require.NoError(t, j.Set("flag", journal.Active, ""))
	require.NoError(t, j.Begin("drain", v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}, []evidence.Target{{Kind: evidence.KindNode, Name: "node-a"}}))

	live, err := journal.Create(dir, journal.Record{RunID: "live-run", Plan: "p", Platform: "fake", Started: t0}, clk)
	require.NoError(t, err)
	require.NoError(t, live.Begin("drain", v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}, []evidence.Target{{Kind: evidence.KindNode, Name: "node-b"}}))

	opts := Options{JournalDir: dir, Actions: actions, Clock: clk,
		Platforms: func(context.Context, *v1alpha1.DrillPlanSpec) (platform.Platform, error) { return pf, nil }}

	dry := opts
	dry.DryRun = true
	left, err := Run(t.Context(), dry)
	require.NoError(t, err)
	require.Len(t, left, 2, "the live run's fault is not a leftover")
	require.Empty(t, ran, "a dry run touches nothing")
	require.Empty(t, pf.Calls())

	left, err = Run(t.Context(), opts)
	require.NoError(t, err)
	require.Len(t, left, 2)
	for _, l := range left {
		require.True(t, l.Reverted, l.String())
	}
	require.Equal(t, []string{"cleanup rm flag"}, ran)
	require.Equal(t, []string{"recover drain node/node-a"}, pf.Calls())
	require.Equal(t, "run dead-run, step flag (exec on action/flag): reverted", left[0].String())

	left, err = Run(t.Context(), opts)
	require.NoError(t, err)
	require.Empty(t, left, "cleanup is idempotent")
}

func TestCleanupLeavesAnotherClustersFaultsAndSaysHowToRevertThem(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(t0)
	west := evidence.Cluster{Context: "west", Server: "https://10.0.0.2:6443", CAFingerprint: "bb"}
	east := evidence.Cluster{Context: "east", Server: "https://10.0.0.1:6443", CAFingerprint: "aa"}
	j, err := journal.Create(dir, journal.Record{RunID: "west-run", Plan: "p", Platform: "fake", Clusters: []evidence.Cluster{west},
		Owner: journal.Owner{PID: 999999, StartTicks: 1}, Started: t0}, clk)
	require.NoError(t, err)
	require.NoError(t, j.Begin("outage", v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}, []evidence.Target{{Kind: evidence.KindStore, Name: "Deployment/recsys/store"}}))
	require.NoError(t, j.Set("outage", journal.Active, ""))

	pf := newFakePlatform()
	opts := Options{JournalDir: dir, Clock: clk,
		Platforms: func(context.Context, *v1alpha1.DrillPlanSpec) (platform.Platform, error) { return pf, nil }}

	pf.clusters = []evidence.Cluster{east}
	left, err := Run(t.Context(), opts)
	require.NoError(t, err, "another cluster's fault is not an error of this cleanup")
	require.Len(t, left, 1)
	require.True(t, left[0].Elsewhere)
	require.False(t, left[0].Reverted)
	require.Contains(t, left[0].String(), "NOT reverted here: it belongs to cluster https://10.0.0.2:6443 (context \"west\")")
	require.Contains(t, left[0].Hint, "revert it with: drill cleanup --context west")
	require.Empty(t, pf.Calls(), "nothing is touched in the wrong cluster")

	// The same context name for another server is still another cluster.
	pf.clusters = []evidence.Cluster{{Context: "west", Server: "https://10.9.9.9:6443", CAFingerprint: "cc"}}
	left, err = Run(t.Context(), opts)
	require.NoError(t, err)
	require.True(t, left[0].Elsewhere, "a context name is only a local alias")

	pf.clusters = []evidence.Cluster{{Context: "prod-west", Server: west.Server, CAFingerprint: west.CAFingerprint}}
	left, err = Run(t.Context(), opts)
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.True(t, left[0].Reverted, "the same server and CA under another context name is the same cluster")
	require.Equal(t, []string{"recover outage store/Deployment/recsys/store"}, pf.Calls())
}

func TestCleanupForgetsTheActionsItStopped(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(t0)
	j, err := journal.Create(dir, journal.Record{RunID: "dead", Plan: "p", Platform: "fake",
		Owner: journal.Owner{PID: 999999, StartTicks: 1}, Started: t0}, clk)
	require.NoError(t, err)
	exec := v1alpha1.Fault{Exec: &v1alpha1.ExecFault{Inject: v1alpha1.Action{Command: []string{"switch"}}}}
	require.NoError(t, j.Begin("switch", exec, []evidence.Target{{Kind: evidence.KindAction, Name: "switch"}}))
	require.NoError(t, j.Tracker("switch").Starting(action.InFlight{Token: "no-such-process", Kind: "command", What: "switch"}))

	left, err := Run(t.Context(), Options{JournalDir: dir, Clock: clk, Actions: &actiontest.Runner{Clock: clk}})
	require.NoError(t, err)
	require.Len(t, left, 1)
	recs, err := journal.Load(dir)
	require.NoError(t, err)
	require.Empty(t, recs[0].InFlight(), "a stopped action is forgotten")
	require.Empty(t, recs[0].Unfinished())
}
