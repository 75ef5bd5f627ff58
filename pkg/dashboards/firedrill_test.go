package dashboards_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/dashboards"
	"github.com/firedrill/firedrill/pkg/metrics"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// committed is the dashboard JSON the Helm chart ships.
const committed = "../../charts/firedrill/dashboards/firedrill.json"

// TestCommittedJSONIsGenerated: the committed JSON is what the code
// builds (refresh with make dashboards, or -update).
func TestCommittedJSONIsGenerated(t *testing.T) {
	b, err := dashboards.JSON()
	require.NoError(t, err)
	golden.Assert(t, committed, b)

	// Grafana's own model reads it back.
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	require.NoError(t, json.Unmarshal(b, &d))
	require.Equal(t, dashboards.UID, *d.Uid)
}

// TestQueries: every panel has queries; each is filtered by the plan
// variable and reads only metrics that pkg/metrics registers.
func TestQueries(t *testing.T) {
	panels := panelsOf(t, readCommitted(t))
	require.GreaterOrEqual(t, len(panels), 15)

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	require.NoError(t, err)
	m.SetPlan("p", nil, nextFire)
	// Every metric family exists once a plan has a run.
	m.RunFinished(finishedReport())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	known := map[string]bool{}
	for _, mf := range mfs {
		known[mf.GetName()] = true
		known[mf.GetName()+"_bucket"] = true
	}
	name := regexp.MustCompile(`firedrill_[a-z_]+`)
	for _, p := range panels {
		require.NotEmpty(t, p.Queries, "panel %q has no query", p.Title)
		for _, q := range p.Queries {
			require.Contains(t, q.Expr, `plan=~"$plan"`, "panel %q: %s", p.Title, q.Expr)
			names := name.FindAllString(q.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %s", p.Title, q.Expr)
			for _, n := range names {
				require.True(t, known[n], "panel %q reads %s, which pkg/metrics does not export", p.Title, n)
			}
		}
	}
}

// Panel is a panel of the committed dashboard and its queries.
type Panel struct {
	Title   string
	Type    string
	Queries []Query
}

// Query is one target of a panel.
type Query struct {
	RefID   string
	Expr    string
	Instant bool
}

func readCommitted(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(committed)
	require.NoError(t, err)
	return b
}

// panelsOf lists the panels of a dashboard's JSON that query data, rows'
// nested panels included.
func panelsOf(t *testing.T, b []byte) []Panel {
	t.Helper()
	type target struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	var out []Panel
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			pp := Panel{Title: p.Title, Type: p.Type}
			for _, tg := range p.Targets {
				pp.Queries = append(pp.Queries, Query(tg))
			}
			out = append(out, pp)
		}
	}
	walk(d.Panels)
	return out
}

// expand replaces the dashboard's variables as Grafana does with All
// plans chosen and a time range of rng.
func expand(expr, rng string) string {
	return strings.NewReplacer("$plan", dashboards.AllValue, "$__range", rng).Replace(expr)
}

var nextFire = time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC)

// finishedReport is a finished run of plan p with a fault that recovered
// on failover and fail-back.
func finishedReport() *report.Report {
	start := metav1.NewMicroTime(nextFire.Add(-time.Hour))
	end := metav1.NewMicroTime(nextFire.Add(-time.Hour + 2*time.Minute))
	rec := func(objective string) *v1alpha1.Recovery {
		d := &metav1.Duration{Duration: time.Second}
		return &v1alpha1.Recovery{ServiceRTO: d, CapacityRTO: d, RecoveryTime: d, Recovered: true,
			Verdicts: []v1alpha1.ObjectiveVerdict{{Objective: objective, Verdict: v1alpha1.VerdictPass}}, Verdict: v1alpha1.VerdictPass}
	}
	rep := &report.Report{RunID: "r1", Plan: report.Plan{Name: "p", Spec: v1alpha1.DrillPlanSpec{
		Objectives: v1alpha1.Objectives{RTO: &metav1.Duration{Duration: time.Minute}, FailbackRTO: &metav1.Duration{Duration: time.Minute}},
	}}}
	rep.Phase, rep.Verdict, rep.StartTime, rep.CompletionTime = v1alpha1.RunSucceeded, v1alpha1.VerdictPass, &start, &end
	rep.Steps = []v1alpha1.StepResult{{Name: "cut", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunSucceeded, Fault: &v1alpha1.FaultResult{
		Type: "regionCutover", Injected: &start, Failover: rec("rto"), Failback: rec("failbackRTO"), Verdict: v1alpha1.VerdictPass,
	}}}
	return rep
}
