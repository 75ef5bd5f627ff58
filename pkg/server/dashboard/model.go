package dashboard

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/server"
)

// planKey names a plan across namespaces.
type planKey struct{ namespace, name string }

// byPlan groups runs by their plan, each group newest first as listed.
func byPlan(runs []server.Run) map[planKey][]*server.Run {
	out := make(map[planKey][]*server.Run)
	for i := range runs {
		k := planKey{runs[i].Namespace, runs[i].Plan}
		out[k] = append(out[k], &runs[i])
	}
	return out
}

// latestFinished returns the newest n finished runs of runs (newest
// first), oldest first, as the trend reads them.
func latestFinished(runs []*server.Run, n int) []*server.Run {
	var out []*server.Run
	for _, r := range runs {
		if r.Phase.IsTerminal() && r.StartTime != nil {
			out = append(out, r)
			if len(out) == n {
				break
			}
		}
	}
	slices.Reverse(out)
	return out
}

// lastFinished is the newest finished run of runs, or the plan's last run
// when the listing has none and it has finished.
func lastFinished(p *server.Plan, runs []*server.Run) *server.Run {
	for _, r := range runs {
		if r.Phase.IsTerminal() {
			return r
		}
	}
	if p.LastRun != nil && p.LastRun.Phase.IsTerminal() {
		return p.LastRun
	}
	return nil
}

// quarter is a calendar quarter in UTC.
type quarter struct{ year, q int }

func quarterOf(t time.Time) quarter {
	t = t.UTC()
	return quarter{t.Year(), (int(t.Month())-1)/3 + 1}
}

func (q quarter) prev() quarter {
	if q.q == 1 {
		return quarter{q.year - 1, 4}
	}
	return quarter{q.year, q.q - 1}
}

func (q quarter) String() string { return strconv.Itoa(q.year) + " Q" + strconv.Itoa(q.q) }

// quarterRow is the share of drills passed in one quarter.
type quarterRow struct {
	Label          string
	Passed, Total  int
	Failed, Broken int
	// Share is "87.5%", "-" without runs; Width is the share in whole
	// percent for the bar.
	Share string
	Width int
	// Class is pass (every drill passed), fail (one did not) or none.
	Class   string
	Current bool
}

// quarterShares counts the finished runs of runs by the UTC quarter they
// started in: passed are those with verdict Pass, the share is passed over
// every finished run (failed, aborted and broken ones count against it).
// It goes back n quarters from now's, newest first, and no further back
// than the oldest quarter with a run.
func quarterShares(runs []*server.Run, now time.Time, n int) []quarterRow {
	type count struct{ passed, failed, broken int }
	counts := map[quarter]*count{}
	oldest := quarterOf(now)
	for _, r := range runs {
		if !r.Phase.IsTerminal() || r.StartTime == nil {
			continue
		}
		q := quarterOf(*r.StartTime)
		c := counts[q]
		if c == nil {
			c = &count{}
			counts[q] = c
		}
		switch {
		case r.Verdict == v1alpha1.VerdictPass:
			c.passed++
		case r.Phase == v1alpha1.RunFailed:
			c.failed++
		default:
			c.broken++
		}
		if before(q, oldest) {
			oldest = q
		}
	}
	var out []quarterRow
	for q, i := quarterOf(now), 0; i < n && !before(q, oldest); q, i = q.prev(), i+1 {
		row := quarterRow{Label: q.String(), Share: "-", Class: "none", Current: i == 0}
		if c := counts[q]; c != nil {
			row.Passed, row.Failed, row.Broken = c.passed, c.failed, c.broken
			row.Total = c.passed + c.failed + c.broken
			share := float64(c.passed) / float64(row.Total)
			row.Share = percent(share)
			row.Width = int(math.Round(100 * share))
			row.Class = "pass"
			if c.passed < row.Total {
				row.Class = "fail"
			}
		}
		out = append(out, row)
	}
	return out
}

func before(a, b quarter) bool { return a.year < b.year || (a.year == b.year && a.q < b.q) }

// percent writes a share as "87.5%", "100%".
func percent(share float64) string {
	return strconv.FormatFloat(math.Round(share*1000)/10, 'f', -1, 64) + "%"
}

// verdict is how a run's outcome is shown.
type verdict struct {
	// Text is PASS, FAIL, ABORTED, ERROR, RUNNING, PENDING or "never run".
	Text string
	// Class is pass, fail, error, running or none.
	Class string
}

func verdictOf(r *server.Run) verdict {
	if r == nil {
		return verdict{Text: "never run", Class: "none"}
	}
	switch {
	case r.Verdict == v1alpha1.VerdictPass:
		return verdict{Text: "PASS", Class: "pass"}
	case r.Phase == v1alpha1.RunFailed || r.Verdict == v1alpha1.VerdictFail:
		return verdict{Text: "FAIL", Class: "fail"}
	case r.Phase == v1alpha1.RunAborted:
		return verdict{Text: "ABORTED", Class: "error"}
	case r.Phase == v1alpha1.RunError:
		return verdict{Text: "ERROR", Class: "error"}
	case r.Phase == v1alpha1.RunRunning:
		return verdict{Text: "RUNNING", Class: "running"}
	case r.Phase == v1alpha1.RunSucceeded:
		return verdict{Text: "NOT JUDGED", Class: "none"}
	}
	return verdict{Text: "PENDING", Class: "running"}
}

// recovery is a fault's latest recovery against its objective.
type recovery struct {
	Name string
	// Time is "1.2s" or "not recovered"; Objective "30s" or "".
	Time, Objective string
	// Width is the recovery time in percent of the objective, for the
	// gauge (at most 100).
	Width int
	// Class is pass (within the objective), fail (over it or not
	// recovered) or none (no objective).
	Class string
	// Regression is the trend rule's flag on the latest run.
	Regression bool
	// Runs is how many runs measured it.
	Runs int
}

// recoveries is each fault's latest recovery in tr.
func recoveries(tr *trend.Trend) []recovery {
	out := make([]recovery, 0, len(tr.Series))
	for i := range tr.Series {
		s := &tr.Series[i]
		p := &s.Points[len(s.Points)-1]
		rec := recovery{Name: s.Name(), Class: "none", Regression: p.Regression, Runs: len(s.Points), Time: "not recovered"}
		obj := p.Objective.Duration
		if obj > 0 {
			rec.Objective = report.FormatDuration(obj)
		}
		switch {
		case !p.Recovered:
			rec.Class, rec.Width = "fail", 100
		default:
			rec.Time = report.FormatDuration(p.RecoveryTime.Duration)
			if obj > 0 {
				rec.Width = min(100, int(math.Ceil(100*p.RecoveryTime.Seconds()/obj.Seconds())))
				rec.Class = "pass"
				if p.RecoveryTime.Duration > obj {
					rec.Class = "fail"
				}
			}
		}
		out = append(out, rec)
	}
	return out
}

// cell is one run in a plan's strip of latest runs.
type cell struct {
	Class, Title, Link string
}

// strip is the plan's latest runs, oldest first, each a link to its
// report when it has one.
func strip(runs []*server.Run, n int) []cell {
	runs = runs[:min(n, len(runs))]
	out := make([]cell, len(runs))
	for i, r := range runs {
		v := verdictOf(r)
		title := r.ID + ": " + v.Text
		if r.StartTime != nil {
			title += ", " + r.StartTime.UTC().Format(stamp)
		}
		out[len(runs)-1-i] = cell{Class: v.Class, Title: title, Link: reportLink(r)}
	}
	return out
}

// reportLink is where the dashboard serves a run's HTML report: the
// Backend's, or one rendered from its report.json; "" when the run has
// neither.
func reportLink(r *server.Run) string {
	_, html := r.Reports[server.FormatHTML]
	_, data := r.Reports[server.FormatJSON]
	if !html && !data {
		return ""
	}
	return "/runs/" + pathEscape(r.ID) + "/report" + nsQuery(r.Namespace)
}

// planLink is a plan's page.
func planLink(ns, name string) string { return pathPlans + pathEscape(name) + nsQuery(ns) }

// stamp is how the dashboard writes an instant: always UTC.
const stamp = "2006-01-02 15:04 UTC"

// when writes t with how far it is from now: "2026-12-07 03:00 UTC (in
// 5h 2m)".
func when(t, now time.Time) string {
	d := t.Sub(now)
	rel := "now"
	switch {
	case d >= time.Second:
		rel = "in " + approx(d)
	case d <= -time.Second:
		rel = approx(-d) + " ago"
	}
	return t.UTC().Format(stamp) + " (" + rel + ")"
}

// approx writes a duration to the two largest units: 42s, 12m 5s, 5h 2m,
// 3d 4h.
func approx(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return two(s/60, "m", s%60, "s")
	case s < 86400:
		return two(s/3600, "h", s%3600/60, "m")
	}
	return two(s/86400, "d", s%86400/3600, "h")
}

func two(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return strconv.FormatInt(a, 10) + ua
	}
	return strconv.FormatInt(a, 10) + ua + " " + strconv.FormatInt(b, 10) + ub
}

// attention orders plans for the index: broken plans and failed last
// runs first, then plans never run, then the rest; by namespace and name
// within.
func attention(a, b *planRow) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func rank(p *planRow) int {
	switch {
	case p.Error != "" || p.Last.Class == "fail" || p.Last.Class == "error":
		return 0
	case p.Last.Class == "none":
		return 1
	}
	return 2
}
