package plansdir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/plansdir"
	"github.com/firedrill/firedrill/pkg/scheduler"
	"github.com/firedrill/firedrill/pkg/server"
)

func TestNewRefusesIncompleteOptions(t *testing.T) {
	_, err := plansdir.New(plansdir.Options{})
	require.EqualError(t, err, "invalid plans runner options: a plans directory is required\na state directory is required\n"+
		"a journal directory is required\na History is required\na platform factory is required")
}

func TestFireOfARunName(t *testing.T) {
	fire := time.Date(2026, 3, 8, 7, 0, 5, 0, time.UTC)
	name := scheduler.RunName("nightly-drill", fire)
	require.Equal(t, fire, plansdir.Fire(&plansdir.Entry{ID: name, Plan: "nightly-drill", Trigger: v1alpha1.TriggerSchedule}))
	require.Zero(t, plansdir.Fire(&plansdir.Entry{ID: name, Plan: "nightly-drill", Trigger: v1alpha1.TriggerAPI}), "only the schedule's runs have a fire")
	require.Zero(t, plansdir.Fire(&plansdir.Entry{ID: "nightly-drill-x", Plan: "nightly-drill", Trigger: v1alpha1.TriggerSchedule}))
}

// TestEveryPlanFires: a plan with @every fires on its grid; each run goes
// to the history when it ends.
func TestEveryPlanFires(t *testing.T) {
	h := newHarness(t)
	h.write("tick.yaml", planYAML("tick", "@every 1m"))
	h.start()
	h.eventually(0, func() bool { p := h.planOf("tick"); return p.NextRun != nil }, "the schedule is announced")
	require.Equal(t, t0.Add(time.Minute), *h.planOf("tick").NextRun)
	require.Empty(t, h.eng.started())

	h.clk.SetTime(t0.Add(time.Minute))
	first := scheduler.RunName("tick", t0.Add(time.Minute))
	h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the first fire starts a run")
	require.Equal(t, []string{first}, h.eng.started())
	h.eventually(0, func() bool { return slices.Equal(h.runs(server.RunFilter{}), []string{first + " Running"}) }, "the API lists it running")
	h.eventually(0, func() bool { return slices.Contains(h.obs.runsUpdated(), first) }, "the observer gets its live report")
	p := h.planOf("tick")
	require.Len(t, p.Active, 1)
	require.Equal(t, first, p.Active[0].ID)
	require.Equal(t, t0.Add(2*time.Minute), *p.NextRun)

	h.clk.Step(20 * time.Second)
	h.eng.drill(first).end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
	h.eventually(0, func() bool { return len(h.obs.runsFinished()) == 1 }, "the run is stored")
	require.Equal(t, []string{first + " Succeeded"}, h.runs(server.RunFilter{}))
	require.Equal(t, first, h.planOf("tick").LastRun.ID)
	data, err := h.r.Report(t.Context(), "", first, server.FormatMD)
	require.NoError(t, err)
	require.Contains(t, string(data), first)

	h.clk.SetTime(t0.Add(2 * time.Minute))
	h.eventually(0, func() bool { return len(h.eng.started()) == 2 }, "the second fire starts a run")
	require.Equal(t, scheduler.RunName("tick", t0.Add(2*time.Minute)), h.eng.started()[1])
}

// TestBrokenEditIsReportedAndIgnored: a broken edit is reported as
// file:line:column: field: message and the last good version stays
// scheduled; fixing it takes the new version.
func TestBrokenEditIsReportedAndIgnored(t *testing.T) {
	h := newHarness(t)
	h.write("tick.yaml", planYAML("tick", "@every 1m"))
	h.start()
	h.eventually(0, func() bool { return h.planOf("tick").NextRun != nil }, "the schedule is announced")

	h.write("tick.yaml", planYAML("tick", "@every 1m", "concurrencyPolicy: Sometimes"))
	path := filepath.Join(h.plans, "tick.yaml")
	h.eventually(time.Millisecond, func() bool { return h.planOf("tick").Error != "" }, "the broken edit is reported")
	require.Equal(t, path+`:12:22: spec.concurrencyPolicy: must be one of "Forbid", "Allow", "Replace", got "Sometimes"`, h.planOf("tick").Error)

	h.clk.SetTime(t0.Add(time.Minute))
	h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the last good version stays scheduled")

	h.write("new.yaml", "apiVersion: firedrill.dev/v1alpha1\nkind: DrillPlan\nmetadata: {name: new}\nspec: {stesp: []}\n")
	h.eventually(time.Millisecond, func() bool {
		plans, err := h.r.Plans(t.Context())
		require.NoError(t, err)
		return len(plans) == 2
	}, "a file with no good version is listed by its source")
	plans, err := h.r.Plans(t.Context())
	require.NoError(t, err)
	require.Equal(t, filepath.Join(h.plans, "new.yaml"), plans[1].Source)
	require.Empty(t, plans[1].Name)
	require.Contains(t, plans[1].Error, filepath.Join(h.plans, "new.yaml")+`:4:8: spec.stesp: unknown field`)

	h.write("tick.yaml", planYAML("tick", "@every 5m"))
	h.eventually(time.Millisecond, func() bool { return h.planOf("tick").Schedule == "@every 5m" }, "the fixed version is taken")
	require.Empty(t, h.planOf("tick").Error)
}

// TestPlansComeAndGo: a plan removed from the directory is forgotten,
// while its run in progress goes on; a name defined in two files is
// refused in the second.
func TestPlansComeAndGo(t *testing.T) {
	h := newHarness(t)
	h.write("a.yaml", planYAML("a", ""))
	h.start()
	run, err := h.r.Trigger(t.Context(), "", "a", server.User{Name: "alice"})
	require.NoError(t, err)
	h.eventually(0, func() bool { return h.eng.drill(run.ID) != nil }, "the run starts")

	h.write("b.yaml", planYAML("a", ""))
	h.eventually(time.Millisecond, func() bool { return h.planOf("a").Error == "" && len(h.mustPlans()) == 2 }, "the clash is reported")
	require.Contains(t, h.mustPlans()[1].Error, filepath.Join(h.plans, "b.yaml")+`: metadata.name: duplicate plan name "a" (also in `+filepath.Join(h.plans, "a.yaml")+")")

	require.NoError(t, os.Remove(filepath.Join(h.plans, "a.yaml")))
	require.NoError(t, os.Remove(filepath.Join(h.plans, "b.yaml")))
	h.eventually(time.Millisecond, func() bool { return len(h.mustPlans()) == 0 }, "the plan is gone")
	require.Equal(t, []string{"a"}, h.obs.removedPlans(), "the observer is told")
	require.Equal(t, []string{run.ID + " Running"}, h.runs(server.RunFilter{}), "its run goes on")
	h.eng.drill(run.ID).end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
	h.eventually(0, func() bool { return slices.Equal(h.runs(server.RunFilter{}), []string{run.ID + " Succeeded"}) }, "and is stored")
}

func (h *harness) mustPlans() []server.Plan {
	h.t.Helper()
	plans, err := h.r.Plans(h.t.Context())
	require.NoError(h.t, err)
	return plans
}

// TestRestartNeitherRefiresNorForgets: the schedule status survives a
// restart; a fire that started does not start again, and fires missed
// while drill serve was down are recorded, or the latest one started.
func TestRestartNeitherRefiresNorForgets(t *testing.T) {
	h := newHarness(t)
	h.write("hourly.yaml", planYAML("hourly", "0 * * * *", "startingDeadlineSeconds: 600"))
	h.start()
	h.eventually(0, func() bool { return h.planOf("hourly").NextRun != nil }, "the schedule is announced")
	h.clk.SetTime(t0.Add(time.Hour))
	h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the 03:00 fire starts")
	h.clk.Step(5 * time.Minute)
	h.eng.drill(h.eng.started()[0]).end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
	h.eventually(0, func() bool { return len(h.obs.runsFinished()) == 1 }, "the run is stored")
	h.stop()

	h.clk.SetTime(t0.Add(time.Hour + 6*time.Minute))
	h.start()
	h.eventually(0, func() bool { r, _ := h.obs.last("hourly"); return r != "" }, "the restarted runner decides")
	reason, st := h.obs.last("hourly")
	require.Equal(t, scheduler.ReasonScheduled, reason)
	require.Len(t, h.eng.started(), 1, "a restart does not start the same fire again")
	require.Equal(t, t0.Add(2*time.Hour), st.NextScheduleTime.Time)
	require.Equal(t, t0.Add(5*time.Minute+time.Hour), st.LastSuccessfulTime.Time)
	h.stop()

	// Down from 03:06 to 06:30: the 04:00, 05:00 and 06:00 fires are
	// missed, the last one past its deadline.
	h.clk.SetTime(t0.Add(4*time.Hour + 30*time.Minute))
	h.start()
	h.eventually(0, func() bool { r, _ := h.obs.last("hourly"); return r != "" }, "the restarted runner decides")
	reason, st = h.obs.last("hourly")
	require.Equal(t, scheduler.ReasonMissed, reason)
	require.Len(t, h.eng.started(), 1)
	require.NotNil(t, st.Missed)
	require.Equal(t, v1alpha1.MissedDeadlineExceeded, st.Missed.Reason)
	require.Equal(t, int32(3), st.Missed.Count)
	require.Equal(t, t0.Add(4*time.Hour), st.Missed.ScheduleTime.Time)
	require.Equal(t, t0.Add(5*time.Hour), h.planOf("hourly").NextRun.UTC())
}

// TestRestartStartsTheLatestMissedFireOnce: without a deadline, the latest
// fire missed while drill serve was down starts, once; the earlier ones
// are recorded as superseded.
func TestRestartStartsTheLatestMissedFireOnce(t *testing.T) {
	h := newHarness(t)
	h.write("hourly.yaml", planYAML("hourly", "0 * * * *"))
	h.start()
	h.eventually(0, func() bool { return h.planOf("hourly").NextRun != nil }, "the schedule is announced")
	h.stop()
	h.clk.SetTime(t0.Add(3*time.Hour + 10*time.Minute))
	h.start()
	h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the latest missed fire starts")
	require.Equal(t, []string{scheduler.RunName("hourly", t0.Add(3*time.Hour))}, h.eng.started())
	_, st := h.obs.last("hourly")
	require.Equal(t, v1alpha1.MissedSuperseded, st.Missed.Reason)
	require.Equal(t, int32(2), st.Missed.Count)
	h.stop()
	h.start()
	h.eventually(0, func() bool { r, _ := h.obs.last("hourly"); return r != "" }, "the restarted runner decides")
	require.Len(t, h.eng.started(), 1, "the fire that started is not owed again: its run was stored as Error")
}

// TestTriggerAndAbort: a run on request takes the scheduled runs' path; a
// second is refused while it goes; abort ends it Aborted with who and why.
func TestTriggerAndAbort(t *testing.T) {
	h := newHarness(t)
	h.write("manual.yaml", planYAML("manual", ""))
	h.start()
	ctx := t.Context()
	alice := server.User{Name: "alice"}

	_, err := h.r.Trigger(ctx, "", "missing", alice)
	require.ErrorIs(t, err, server.ErrNotFound)
	_, err = h.r.Trigger(ctx, "team-a", "manual", alice)
	require.ErrorIs(t, err, server.ErrNotFound)

	run, err := h.r.Trigger(ctx, "", "manual", alice)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.TriggerAPI, run.Trigger)
	require.Equal(t, "manual", run.Plan)
	h.eventually(0, func() bool { return h.eng.drill(run.ID) != nil }, "the run starts")
	_, err = h.r.Trigger(ctx, "", "manual", alice)
	require.ErrorIs(t, err, server.ErrConflict)
	require.ErrorContains(t, err, "plan manual has run "+run.ID+" in progress and its concurrencyPolicy is Forbid, not Allow")

	got, rep, err := h.r.Run(ctx, "", run.ID)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunRunning, got.Phase)
	require.Equal(t, v1alpha1.RunRunning, rep.Phase, "a run in progress comes with its live report")
	_, err = h.r.Report(ctx, "", run.ID, server.FormatJSON)
	require.ErrorIs(t, err, server.ErrNotFound)

	require.NoError(t, h.r.Abort(ctx, "", run.ID, "wrong day", alice))
	h.eventually(0, func() bool { return len(h.obs.runsFinished()) == 1 }, "the aborted run is stored")
	got, rep, err = h.r.Run(ctx, "", run.ID)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, got.Phase)
	require.Equal(t, "aborted by alice through the API: wrong day; every active fault was reverted", rep.Message)
	require.ErrorIs(t, h.r.Abort(ctx, "", run.ID, "", alice), server.ErrConflict)
	require.ErrorIs(t, h.r.Abort(ctx, "", "manual-nope", "", alice), server.ErrNotFound)
	data, err := h.r.Report(ctx, "", run.ID, server.FormatJUnit)
	require.NoError(t, err)
	require.Contains(t, string(data), "<testsuites")
}

// TestConcurrencyPolicies: Forbid holds a fire back until the active run
// ends; Replace aborts it and starts once it has ended.
func TestConcurrencyPolicies(t *testing.T) {
	t.Run("Forbid holds the fire until the run ends", func(t *testing.T) {
		h := newHarness(t)
		h.write("p.yaml", planYAML("p", "@every 1m"))
		h.start()
		h.eventually(0, func() bool { return h.planOf("p").NextRun != nil }, "the schedule is announced")
		h.clk.SetTime(t0.Add(time.Minute))
		h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the first fire starts")
		h.clk.SetTime(t0.Add(2*time.Minute + 10*time.Second))
		h.eventually(0, func() bool { r, _ := h.obs.last("p"); return r == scheduler.ReasonWaiting }, "the second fire waits")
		require.Len(t, h.eng.started(), 1)
		h.eng.drill(h.eng.started()[0]).end(v1alpha1.RunFailed, v1alpha1.VerdictFail, "")
		h.eventually(0, func() bool { return len(h.eng.started()) == 2 }, "the second fire starts once the first run ended")
		require.Equal(t, scheduler.RunName("p", t0.Add(2*time.Minute)), h.eng.started()[1])
	})
	t.Run("Replace aborts the run and then starts", func(t *testing.T) {
		h := newHarness(t)
		h.write("p.yaml", planYAML("p", "@every 1m", "concurrencyPolicy: Replace"))
		h.start()
		h.eventually(0, func() bool { return h.planOf("p").NextRun != nil }, "the schedule is announced")
		h.clk.SetTime(t0.Add(time.Minute))
		h.eventually(0, func() bool { return len(h.eng.started()) == 1 }, "the first fire starts")
		h.clk.SetTime(t0.Add(2 * time.Minute))
		h.eventually(0, func() bool { return len(h.eng.started()) == 2 }, "the second fire starts once the first run was aborted")
		first := h.eng.drill(h.eng.started()[0])
		require.Equal(t, "concurrencyPolicy Replace: a new fire of the plan replaces this run", first.aborted)
		h.eventually(0, func() bool {
			return slices.Contains(h.runs(server.RunFilter{Phase: v1alpha1.RunAborted}), first.id+" Aborted")
		}, "the replaced run is stored Aborted")
	})
}

// TestHistoryLimitsPruneScheduledRuns: the oldest scheduled runs beyond
// the limit go with their reports; a run on request stays.
func TestHistoryLimitsPruneScheduledRuns(t *testing.T) {
	h := newHarness(t)
	h.write("p.yaml", planYAML("p", "@every 1m", "successfulRunsHistoryLimit: 1"))
	h.start()
	h.eventually(0, func() bool { return h.planOf("p").NextRun != nil }, "the schedule is announced")
	manual, err := h.r.Trigger(t.Context(), "", "p", server.User{Name: "alice"})
	require.NoError(t, err)
	h.eventually(0, func() bool { return h.eng.drill(manual.ID) != nil }, "the run starts")
	h.eng.drill(manual.ID).end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
	for i := 1; i <= 3; i++ {
		h.clk.SetTime(t0.Add(time.Duration(i) * time.Minute))
		id := scheduler.RunName("p", t0.Add(time.Duration(i)*time.Minute))
		h.eventually(0, func() bool { return h.eng.drill(id) != nil }, "fire %d starts", i)
		h.eng.drill(id).end(v1alpha1.RunSucceeded, v1alpha1.VerdictPass, "")
		h.eventually(0, func() bool { return len(h.obs.runsFinished()) == i+1 }, "run %d is stored", i)
	}
	last := scheduler.RunName("p", t0.Add(3*time.Minute))
	h.eventually(0, func() bool {
		return slices.Equal(h.runs(server.RunFilter{}), []string{last + " Succeeded", manual.ID + " Succeeded"})
	}, "only the newest scheduled run and the run on request are kept")
	require.NoDirExists(t, filepath.Join(h.reports, "p", scheduler.RunName("p", t0.Add(time.Minute))))
}

// TestARunThatCannotStartIsAnError: the engine's refusal ends the run as
// Error, with the reason; the schedule goes on.
func TestARunThatCannotStartIsAnError(t *testing.T) {
	h := newHarness(t)
	h.eng.refuse = errors.New("plan p is already running against the same target as run q (pid 1 on host)")
	h.write("p.yaml", planYAML("p", "@every 1m"))
	h.start()
	h.eventually(0, func() bool { return h.planOf("p").NextRun != nil }, "the schedule is announced")
	h.clk.SetTime(t0.Add(time.Minute))
	id := scheduler.RunName("p", t0.Add(time.Minute))
	h.eventually(0, func() bool { return len(h.obs.runsFinished()) == 1 }, "the run is stored")
	run, rep, err := h.r.Run(t.Context(), "", id)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunError, run.Phase)
	require.Equal(t, v1alpha1.VerdictNotJudged, run.Verdict)
	require.Equal(t, h.eng.refuse.Error(), rep.Message)
	require.Equal(t, t0.Add(2*time.Minute), *h.planOf("p").NextRun, "the fire is not owed again")
}

// TestStopAbortsRunsInProgress: stopping aborts every run, which reverts
// its faults, and stores it; nothing is left in the state.
func TestStopAbortsRunsInProgress(t *testing.T) {
	h := newHarness(t)
	h.write("p.yaml", planYAML("p", ""))
	h.start()
	run, err := h.r.Trigger(t.Context(), "", "p", server.User{Name: "alice"})
	require.NoError(t, err)
	h.eventually(0, func() bool { return h.eng.drill(run.ID) != nil }, "the run starts")
	require.NoError(t, h.r.Ready())
	h.stop()
	require.Error(t, h.r.Ready())
	require.Equal(t, "drill serve is stopping", h.eng.drill(run.ID).aborted)
	e, err := h.hist.Get(t.Context(), run.ID)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunAborted, e.Phase)
	state, err := os.ReadFile(filepath.Join(h.state, "serve", "state.json"))
	require.NoError(t, err)
	require.NotContains(t, string(state), run.ID)
}

// TestRunsOfADeadServeAreStoredAsError: drill serve dies while a run goes
// (its state directory is copied as it was); the next start stores the
// run as Error with what its last snapshot measured.
func TestRunsOfADeadServeAreStoredAsError(t *testing.T) {
	h := newHarness(t)
	h.write("p.yaml", planYAML("p", ""))
	h.start()
	run, err := h.r.Trigger(t.Context(), "", "p", server.User{Name: "alice"})
	require.NoError(t, err)
	h.eventually(0, func() bool { return h.eng.drill(run.ID) != nil }, "the run starts")
	live := filepath.Join(h.state, "serve", "live", run.ID+".json")
	h.eventually(time.Second, func() bool { _, err := os.Stat(live); return err == nil }, "a snapshot is kept")

	dead := newHarness(t)
	dead.clk.SetTime(h.clk.Now().Add(time.Minute))
	dead.plans = h.plans
	require.NoError(t, os.CopyFS(filepath.Join(dead.state, "serve"), os.DirFS(filepath.Join(h.state, "serve"))))
	require.NoError(t, os.Remove(filepath.Join(dead.state, "serve", "lock")))
	dead.start()
	got, rep, err := dead.r.Run(t.Context(), "", run.ID)
	require.NoError(t, err)
	require.Equal(t, v1alpha1.RunError, got.Phase)
	require.Contains(t, rep.Message, "drill serve stopped while the run was going (killed or crashed); when it started again no fault of the run was left to revert; the measurements are as of ")
	require.Equal(t, v1alpha1.TriggerAPI, rep.Trigger)
	require.Equal(t, []string{run.ID + " Error"}, dead.runs(server.RunFilter{}))
	require.NoFileExists(t, filepath.Join(dead.state, "serve", "live", run.ID+".json"))
	require.Empty(t, dead.eng.started(), "nothing runs again")
}

func TestASecondRunnerOnTheSameStateIsRefused(t *testing.T) {
	h := newHarness(t)
	h.start()
	other := newHarness(t)
	other.state = h.state
	err := other.startErr()
	require.ErrorContains(t, err, "another drill serve runs on the state directory "+filepath.Join(h.state, "serve"))
}

func TestStartNeedsThePlansDirectory(t *testing.T) {
	h := newHarness(t)
	h.plans = filepath.Join(h.plans, "missing")
	require.ErrorContains(t, h.startErr(), "watching the plans directory "+h.plans)
	h.plans = filepath.Dir(h.plans)
	h.start() // the lock of the failed start was released
	require.NoError(t, h.r.Ready())
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	require.NoError(t, h.r.Stop(ctx))
}
