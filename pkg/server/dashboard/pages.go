package dashboard

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/report"
	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
	"github.com/firedrill/firedrill/pkg/server"
)

// planRow is a plan as the index lists it.
type planRow struct {
	Namespace, Name, Link string
	Platform              string
	Schedule, TimeZone    string
	Suspended             bool
	NextRun               string
	Last                  verdict
	LastWhen, LastLink    string
	Active                int
	Error                 string
	Runs                  []cell
	Recoveries            []recovery
	// Missing counts runs whose report could not be read.
	Missing int
	rank    int
}

// indexView is the index page.
type indexView struct {
	User, Namespace, Now string
	Plans                []*planRow
	Totals               totals
	Quarters             []quarterRow
	RunsPerPlan          int
	Rule                 string
}

// totals are the index's headline counts.
type totals struct {
	Plans, Passing, Failing, NeverRun, Running, Broken int
	// Quarter is this quarter's pass share.
	Quarter quarterRow
}

// index renders the list of plans.
func (d *Dashboard) index(w http.ResponseWriter, r *http.Request, u server.User) {
	v, err := d.indexView(r.Context(), r.URL.Query().Get(paramNS))
	if err != nil {
		d.failed(w, r, "listing plans and runs", err)
		return
	}
	v.User = u.Name
	d.page(w, r, http.StatusOK, "index", v)
}

func (d *Dashboard) indexView(ctx context.Context, ns string) (*indexView, error) {
	now := d.opts.Clock.Now()
	plans, err := d.opts.Backend.Plans(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing plans: %w", err)
	}
	runs, err := d.opts.Backend.Runs(ctx, server.RunFilter{Namespace: ns})
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	groups := byPlan(runs)
	v := &indexView{Namespace: ns, Now: now.UTC().Format(stamp), RunsPerPlan: d.opts.RunsPerPlan, Rule: trend.DefaultRule().String()}
	var inScope []*server.Run
	for i := range plans {
		p := &plans[i]
		if ns != "" && p.Namespace != ns {
			continue
		}
		prs := groups[planKey{p.Namespace, p.Name}]
		inScope = append(inScope, prs...)
		row := d.planRow(ctx, p, prs, now)
		v.Plans = append(v.Plans, row)
		v.Totals.Plans++
		v.Totals.Running += row.Active
		switch row.Last.Class {
		case "pass":
			v.Totals.Passing++
		case "fail", "error":
			v.Totals.Failing++
		default:
			v.Totals.NeverRun++
		}
		if row.Error != "" {
			v.Totals.Broken++
		}
	}
	slices.SortFunc(v.Plans, attention)
	v.Quarters = quarterShares(inScope, now, d.opts.Quarters)
	if len(v.Quarters) > 0 {
		v.Totals.Quarter = v.Quarters[0]
	}
	return v, nil
}

// planRow summarises a plan from its runs (newest first): the latest
// finished ones' recoveries come from their reports, through the cache.
func (d *Dashboard) planRow(ctx context.Context, p *server.Plan, runs []*server.Run, now time.Time) *planRow {
	row := &planRow{
		Namespace: p.Namespace, Name: p.Name, Link: planLink(p.Namespace, p.Name), Platform: string(p.Platform),
		Schedule: p.Schedule, TimeZone: p.TimeZone, Suspended: p.Suspend, Error: p.Error,
		NextRun: "-", Runs: strip(runs, d.opts.RunsPerPlan),
	}
	switch {
	case p.NextRun != nil && !p.NextRun.After(now):
		// Due: waiting for a run in progress, or firing as we speak.
		row.NextRun = p.NextRun.UTC().Format(stamp) + " (due)"
	case p.NextRun != nil:
		row.NextRun = when(*p.NextRun, now)
	case p.Suspend:
		row.NextRun = "suspended"
	case p.Schedule == "":
		row.NextRun = "on demand"
	}
	for _, r := range runs {
		if !r.Phase.IsTerminal() {
			row.Active++
		}
	}
	last := lastFinished(p, runs)
	row.Last = verdictOf(last)
	if last != nil {
		row.LastLink = reportLink(last)
		if last.StartTime != nil {
			row.LastWhen = when(*last.StartTime, now)
		}
	}
	fin, pk := latestFinished(runs, d.opts.RunsPerPlan), planKey{p.Namespace, p.Name}
	var ok bool
	if row.Recoveries, ok = d.recent.get(pk, keyOf(fin)); !ok {
		entries, missing := d.summariesOf(ctx, fin)
		tr := trend.Analyze(p.Name, entries, "", trend.DefaultRule())
		row.Recoveries, row.Missing = recoveries(&tr), missing
		if missing == 0 {
			d.recent.put(pk, keyOf(fin), row.Recoveries)
		}
	}
	row.rank = rank(row)
	return row
}

// planView is a plan's page.
type planView struct {
	User, Now   string
	Plan        *planRow
	Source      string
	Charts      []chart
	Trend       []trendRow
	Rule        string
	Charted     int
	RunsPerPlan int
	Quarters    []quarterRow
	Runs        []runRow
	More        int
	APIRuns     string
}

// chart is one inline SVG figure.
type chart struct {
	Name, Caption string
	SVG           template.HTML
	Error         string
}

// trendRow is a fault's latest recovery judged against the previous
// runs.
type trendRow struct {
	Recovery, Time, Objective, Median, Why string
	Regression                             bool
}

// runRow is one run in a plan's list.
type runRow struct {
	ID, Trigger, Started, Took, Worst, Message, Link string
	Verdict                                          verdict
}

func (d *Dashboard) plan(w http.ResponseWriter, r *http.Request, u server.User) {
	ns, name := r.URL.Query().Get(paramNS), r.PathValue("plan")
	v, err := d.planView(r.Context(), ns, name)
	switch {
	case err != nil:
		d.failed(w, r, "reading the plan", err)
	case v == nil:
		d.page(w, r, http.StatusNotFound, "error", errorView{Title: "No such plan", User: u.Name, Message: "There is no plan " + name + inNamespace(ns) + "."})
	default:
		v.User = u.Name
		d.page(w, r, http.StatusOK, "plan", v)
	}
}

func (d *Dashboard) planView(ctx context.Context, ns, name string) (*planView, error) {
	now := d.opts.Clock.Now()
	plans, err := d.opts.Backend.Plans(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing plans: %w", err)
	}
	i := slices.IndexFunc(plans, func(p server.Plan) bool { return p.Namespace == ns && p.Name == name })
	if i < 0 {
		return nil, nil
	}
	p := &plans[i]
	list, err := d.opts.Backend.Runs(ctx, server.RunFilter{Namespace: ns, Plan: name})
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	runs := make([]*server.Run, len(list))
	for i := range list {
		runs[i] = &list[i]
	}
	v := &planView{Now: now.UTC().Format(stamp), RunsPerPlan: d.opts.RunsPerPlan, Plan: d.planRow(ctx, p, runs, now), Source: p.Source,
		Quarters: quarterShares(runs, now, d.opts.Quarters), APIRuns: "/api/" + server.APIVersion + "/runs?" + url.Values{"plan": {name}}.Encode()}
	if ns != "" {
		v.APIRuns += "&" + paramNS + "=" + url.QueryEscape(ns)
	}
	rule := trend.DefaultRule()
	v.Rule = rule.String()
	entries, _ := d.summariesOf(ctx, latestFinished(runs, d.opts.RunsPerPlan))
	tr := trend.Analyze(name, entries, "", rule)
	v.Charted = len(tr.Runs)
	for i := range tr.Series {
		s := &tr.Series[i]
		v.Charts = append(v.Charts, trendFigure(ctx, s, tr.Runs))
		p := &s.Points[len(s.Points)-1]
		row := trendRow{Recovery: s.Name(), Time: "not recovered", Objective: "-", Median: "-", Why: p.Why(rule), Regression: p.Regression}
		if p.Recovered {
			row.Time = report.FormatDuration(p.RecoveryTime.Duration)
		}
		if p.Objective.Duration > 0 {
			row.Objective = report.FormatDuration(p.Objective.Duration)
		}
		if p.Judged {
			row.Median = "not recovered"
			if p.MedianRecovered {
				row.Median = report.FormatDuration(p.Median.Duration)
			}
		}
		v.Trend = append(v.Trend, row)
	}
	if len(runs) > MaxRunsListed {
		v.More = len(runs) - MaxRunsListed
		runs = runs[:MaxRunsListed]
	}
	for _, r := range runs {
		row := runRow{ID: r.ID, Trigger: string(r.Trigger), Worst: r.WorstRecovery, Message: r.Message, Link: reportLink(r), Verdict: verdictOf(r), Started: "-", Took: "-"}
		if r.StartTime != nil {
			row.Started = r.StartTime.UTC().Format(stamp)
			if r.CompletionTime != nil {
				row.Took = approx(r.CompletionTime.Sub(*r.StartTime))
			}
		}
		v.Runs = append(v.Runs, row)
	}
	return v, nil
}

// trendFigure draws a fault's recovery over the charted runs with the
// report's trend chart; a chart that cannot be drawn says so in its place.
func trendFigure(ctx context.Context, s *trend.Series, runs []trend.Run) chart {
	c := chart{Name: s.Name(), Caption: s.Name() + " (" + s.Type + "): recovery time per run"}
	if obj := s.Points[len(s.Points)-1].Objective.Duration; obj > 0 {
		c.Caption += " against its objective, " + report.FormatDuration(obj) + " (dashed red line)"
	}
	c.Caption += "; regressions in red, runs that never recovered as crosses at the top."
	svg, err := reporthtml.TrendChart(s, runs)
	if err != nil {
		log.FromContext(ctx).Warn("dashboard: a chart could not be drawn", "recovery", s.Name(), "err", err)
		c.Error = "This chart could not be drawn: " + err.Error()
		return c
	}
	c.SVG = template.HTML(svg) //nolint:gosec // gonum's SVG of our own data, labels escaped by the SVG writer.
	return c
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in namespace " + ns
}

func nsQuery(ns string) string {
	if ns == "" {
		return ""
	}
	return "?" + paramNS + "=" + url.QueryEscape(ns)
}

func pathEscape(s string) string { return url.PathEscape(s) }
