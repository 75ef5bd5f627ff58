package dashboard_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/dashboard"
	"github.com/firedrill/firedrill/pkg/server/tokenfile"
)

// now is the fixed clock of the tests: a Monday in 2026's last quarter.
var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// fakeBackend serves fixed plans, runs and reports, and counts the
// reports it is asked to read.
type fakeBackend struct {
	mu      sync.Mutex
	plans   []server.Plan
	runs    []server.Run // newest first
	reports map[string]*report.Report
	byID    map[string]server.Run
	reads   atomic.Int64
}

func (b *fakeBackend) Plans(context.Context) ([]server.Plan, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.plans), nil
}

func (b *fakeBackend) Runs(_ context.Context, f server.RunFilter) ([]server.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []server.Run
	for _, r := range b.runs {
		if (f.Namespace == "" || r.Namespace == f.Namespace) && (f.Plan == "" || r.Plan == f.Plan) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (b *fakeBackend) Run(_ context.Context, ns, id string) (server.Run, *report.Report, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads.Add(1)
	if r, ok := b.byID[ns+"/"+id]; ok {
		return r, b.reports[ns+"/"+id], nil
	}
	return server.Run{}, nil, fmt.Errorf("run %s: %w", id, server.ErrNotFound)
}

func (b *fakeBackend) Report(_ context.Context, ns, id, format string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.runs {
		if _, ok := r.Reports[format]; ok && r.Namespace == ns && r.ID == id {
			return []byte("<!DOCTYPE html><title>report " + id + "</title>"), nil
		}
	}
	return nil, fmt.Errorf("report of %s: %w", id, server.ErrNotFound)
}

// addRun adds a finished run of plan (newest first order is restored by
// sort) with a report of two faults: kill-primary (failover and
// fail-back) and cut-region (failover only), objectives 30s and 60s.
func (b *fakeBackend) addRun(ns, plan, id string, start time.Time, phase v1alpha1.RunPhase, kill, cut time.Duration) {
	end := start.Add(4 * time.Minute)
	run := server.Run{Namespace: ns, ID: id, Plan: plan, Trigger: v1alpha1.TriggerSchedule, Phase: phase, StartTime: &start}
	if phase.IsTerminal() {
		run.CompletionTime = &end
		run.Reports = map[string]string{server.FormatHTML: "", server.FormatJSON: ""}
		switch phase {
		case v1alpha1.RunSucceeded:
			run.Verdict = v1alpha1.VerdictPass
		case v1alpha1.RunFailed:
			run.Verdict = v1alpha1.VerdictFail
		}
		run.WorstRecovery = report.FormatDuration(max(kill, cut)) + "/30s"
		ms := metav1.NewMicroTime(start)
		b.reports[ns+"/"+id] = &report.Report{
			Schema: report.SchemaVersion, RunID: id, Plan: report.Plan{Name: plan},
			RunResult: v1alpha1.RunResult{Phase: phase, Verdict: run.Verdict, StartTime: &ms, Steps: []v1alpha1.StepResult{
				{Name: "baseline"},
				{Name: "kill-primary", Fault: &v1alpha1.FaultResult{Type: "podKill", Failover: recovery(kill, 30*time.Second, "rto"), Failback: recovery(kill/2, 30*time.Second, "failbackRTO")}},
				{Name: "cut-region", Fault: &v1alpha1.FaultResult{Type: "regionCutover", Failover: recovery(cut, 60*time.Second, "rto")}},
			}},
		}
	}
	b.runs = append(b.runs, run)
	if b.byID == nil {
		b.byID = map[string]server.Run{}
	}
	b.byID[ns+"/"+id] = run
	slices.SortStableFunc(b.runs, func(a, c server.Run) int { return c.StartTime.Compare(*a.StartTime) })
}

// recovery is a recovery of d (never, when d < 0) judged against obj.
func recovery(d, obj time.Duration, objective string) *v1alpha1.Recovery {
	r := &v1alpha1.Recovery{Verdict: v1alpha1.VerdictPass}
	v := v1alpha1.ObjectiveVerdict{Objective: objective, Target: obj.String(), Verdict: v1alpha1.VerdictPass}
	if d >= 0 {
		r.Recovered, r.RecoveryTime = true, &metav1.Duration{Duration: d}
		v.Measured = d.String()
	}
	if d < 0 || d > obj {
		r.Verdict, v.Verdict = v1alpha1.VerdictFail, v1alpha1.VerdictFail
	}
	r.Verdicts = []v1alpha1.ObjectiveVerdict{v}
	return r
}

// small is the golden tests' backend: a healthy nightly plan with a run in
// progress, a weekly plan that failed its last run and has a refused edit,
// and a plan never run.
func small() *fakeBackend {
	b := &fakeBackend{reports: map[string]*report.Report{}}
	next, weekly := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC), time.Date(2026, 12, 14, 3, 0, 0, 0, time.UTC)
	b.plans = []server.Plan{
		{Name: "nightly", Source: "plans/nightly.yaml", Platform: v1alpha1.PlatformNone, Schedule: "0 3 * * *", NextRun: &next},
		{Name: "on-demand", Source: "plans/on-demand.yaml", Platform: v1alpha1.PlatformLocal},
		{Name: "weekly", Source: "plans/weekly.yaml", Platform: v1alpha1.PlatformKubernetes, Schedule: "0 4 * * 1", TimeZone: "Europe/Paris", NextRun: &weekly,
			Error: "plans/weekly.yaml:7:5: spec.steps[1].fault: unknown fault type \"podKil\""},
	}
	// Nightly: six runs over two quarters, one slower (a regression), one
	// aborted; one in progress.
	times := []time.Duration{2 * time.Second, 2100 * time.Millisecond, 1900 * time.Millisecond, 2 * time.Second, 4 * time.Second}
	for i, d := range times {
		start := now.Add(-time.Duration(len(times)-i) * 20 * 24 * time.Hour).Truncate(24 * time.Hour).Add(3 * time.Hour)
		b.addRun("", "nightly", fmt.Sprintf("nightly-%s", start.Format("20060102-150405")), start, v1alpha1.RunSucceeded, d, 10*time.Second)
	}
	aborted := now.Add(-70 * 24 * time.Hour).Truncate(24 * time.Hour).Add(3 * time.Hour)
	b.addRun("", "nightly", "nightly-"+aborted.Format("20060102-150405"), aborted, v1alpha1.RunAborted, 3*time.Second, 11*time.Second)
	b.addRun("", "nightly", "nightly-20261207-030000", time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC).Add(8*time.Hour+50*time.Minute), v1alpha1.RunRunning, 0, 0)
	// Weekly: passed, then failed: kill-primary over its objective and
	// cut-region never recovered.
	b.addRun("", "weekly", "weekly-20261123-040000", time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC), v1alpha1.RunSucceeded, 20*time.Second, 30*time.Second)
	b.addRun("", "weekly", "weekly-20261130-040000", time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), v1alpha1.RunFailed, 42*time.Second, -1)
	// Weekly's Backend keeps report.json only.
	for i := range b.runs {
		if b.runs[i].Plan == "weekly" {
			delete(b.runs[i].Reports, server.FormatHTML)
		}
	}
	return b
}

// large is the benchmark's backend: plans plans of runs runs each, one a
// day, every seventh failing.
func large(plans, runs int) *fakeBackend {
	b := &fakeBackend{reports: map[string]*report.Report{}}
	next := now.Add(15 * time.Hour)
	for p := range plans {
		name := fmt.Sprintf("plan-%03d", p)
		b.plans = append(b.plans, server.Plan{Name: name, Platform: v1alpha1.PlatformKubernetes, Schedule: "0 3 * * *", NextRun: &next})
		for r := range runs {
			start := now.Add(-time.Duration(r+1)*24*time.Hour - time.Duration(p)*time.Second)
			phase, kill := v1alpha1.RunSucceeded, time.Duration(2000+r*37+p)*time.Millisecond
			if (p+r)%7 == 0 {
				phase, kill = v1alpha1.RunFailed, 45*time.Second
			}
			b.addRunUnsorted("", name, fmt.Sprintf("%s-%04d", name, r), start, phase, kill, 12*time.Second)
		}
	}
	slices.SortStableFunc(b.runs, func(a, c server.Run) int { return c.StartTime.Compare(*a.StartTime) })
	return b
}

// addRunUnsorted is addRun without the sort, for large fixtures.
func (b *fakeBackend) addRunUnsorted(ns, plan, id string, start time.Time, phase v1alpha1.RunPhase, kill, cut time.Duration) {
	runs := b.runs
	b.runs = nil
	b.addRun(ns, plan, id, start, phase, kill, cut)
	b.runs = append(runs, b.runs...)
}

// Tokens of the tests' token file.
const (
	tokenReader = "reader-token-0123456789"
	tokenNobody = "nobody-token-0123456789"
)

func tokens(tb testing.TB) *tokenfile.File {
	tb.Helper()
	f, err := tokenfile.Parse("tokens.yaml", []byte(`tokens:
  - {user: reader, token: `+tokenReader+`, rights: [read]}
  - {user: nobody, token: `+tokenNobody+`, rights: [trigger]}
`))
	require.NoError(tb, err)
	return f
}

// newDashboard is a dashboard over b with the fixed clock and the tests'
// tokens.
func newDashboard(tb testing.TB, b dashboard.Backend) *dashboard.Dashboard {
	tb.Helper()
	tf := tokens(tb)
	d, err := dashboard.New(dashboard.Options{Backend: b, Authenticator: tf, Authorizer: tf, Clock: clocktesting.NewFakePassiveClock(now)})
	require.NoError(tb, err)
	return d
}

// Trigger implements server.Backend: the dashboard never calls it.
func (b *fakeBackend) Trigger(context.Context, string, string, server.User) (server.Run, error) {
	return server.Run{}, server.ErrConflict
}

// Abort implements server.Backend: the dashboard never calls it.
func (b *fakeBackend) Abort(context.Context, string, string, string, server.User) error {
	return server.ErrConflict
}
