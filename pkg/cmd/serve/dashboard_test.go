package serve_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/serve"
	"github.com/firedrill/firedrill/pkg/server"
	"github.com/firedrill/firedrill/pkg/server/dashboard"
	"github.com/firedrill/firedrill/pkg/testing/browser"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// The screenshots docs/serve.md and the README show, of the index and of
// a plan's page; the browser test rewrites them when the tests run with
// -update.
const (
	dashboardImage     = "../../../docs/images/dashboard.png"
	dashboardPlanImage = "../../../docs/images/dashboard-plan.png"
)

// TestDashboardInARealBrowser: drill serve on one machine with an @every
// plan on platform none (suspended after three passed runs, so the pages
// hold still), an hourly plan and a plan without a schedule; chromium, with JavaScript
// off, signs in through the form with the token and reads the dashboard:
// the plans with their schedule, next run and last verdict, the pass share
// of this quarter, the plan's recovery chart drawn, and every report link
// opening the run's HTML report; the pages load nothing from elsewhere and
// log nothing. Signing out clears the cookie.
func TestDashboardInARealBrowser(t *testing.T) {
	ctx := browser.New(t, 1280, 900)
	s := newService(t)
	sut := okServer(t)
	// tick keeps its runs while the test reads them (3 by default); once
	// three have passed it is suspended, so the pages hold still. hourly
	// has its next run ahead; by-hand has no schedule.
	tick := drillPlan("tick", "@every 2s", sut, filepath.Join(t.TempDir(), "fault"), "") + "  successfulRunsHistoryLimit: 100\n  failedRunsHistoryLimit: 100\n"
	s.write("tick.yaml", tick)
	s.write("hourly.yaml", drillPlan("hourly", "@every 1h", sut, filepath.Join(t.TempDir(), "fault"), ""))
	s.write("by-hand.yaml", drillPlan("by-hand", "", sut, filepath.Join(t.TempDir(), "fault"), ""))
	s.start(serve.LocalOptions{})
	require.Eventually(t, func() bool {
		runs := s.runs("?plan=tick&phase=Succeeded")
		return len(runs) >= 3 && runs[2].Reports != nil
	}, 90*time.Second, 200*time.Millisecond, "three scheduled runs finish and are stored")
	s.write("tick.yaml", tick+"  suspend: true\n")
	require.Eventually(t, func() bool {
		var p server.Plan
		return s.call(http.MethodGet, "/api/v1/plans/tick", "", &p) == http.StatusOK && p.Suspend
	}, 30*time.Second, 100*time.Millisecond, "drill serve reads the edit")
	var runs []server.Run
	require.Eventually(t, func() bool {
		runs = s.runs("?plan=tick")
		return !slices.ContainsFunc(runs, func(r server.Run) bool { return !r.Phase.IsTerminal() || r.Reports == nil })
	}, 60*time.Second, 200*time.Millisecond, "tick is suspended and its last run stored")
	passed := 0
	for _, r := range runs {
		if r.Verdict == v1alpha1.VerdictPass {
			passed++
		} else {
			t.Logf("run %s: %s %s: %s", r.ID, r.Phase, r.Verdict, r.Message)
		}
	}
	last := strings.ToUpper(string(runs[0].Phase))
	switch runs[0].Verdict {
	case v1alpha1.VerdictPass:
		last = "PASS"
	case v1alpha1.VerdictFail:
		last = "FAIL"
	}
	share := strconv.FormatFloat(math.Round(float64(passed)/float64(len(runs))*1000)/10, 'f', -1, 64) + "%"

	rec := browser.Record(ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})))

	// Signing in: the index sends the browser to the form, the form posts
	// the token and comes back.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/"), chromedp.WaitReady(chromedp.CSS("form.login"))))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, s.base+"/login?next=%2F", loc)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), s.token),
		chromedp.Click(chromedp.CSS("form.login button")),
		chromedp.WaitReady(chromedp.CSS("table.plans")),
	))
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "Drill plans — firedrill", title)

	// The index: each plan with its schedule, next run and last verdict;
	// the pass share of this quarter.
	row := func(plan string) string {
		t.Helper()
		return text(ctx, t, fmt.Sprintf(`table.plans tr.plan:has(a.name[href="/plans/%s"])`, plan))
	}
	require.Regexp(t, `^tick none @every 2s suspended suspended `+last+` \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+s ago\) flag \d+ms / 30.0s flag \(fail-back\) \d+ms / 30.0s$`, row("tick"),
		"tick: its schedule, suspended, its last verdict, its fault's latest recoveries against the objective")
	require.Regexp(t, `^hourly none @every 1h \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 59m \d+s\) never run -$`, row("hourly"), "hourly: its next run")
	require.Equal(t, "by-hand none - on demand never run -", row("by-hand"))
	now := time.Now().UTC()
	quarter := fmt.Sprintf("%d Q%d (this quarter)", now.Year(), (int(now.Month())-1)/3+1)
	require.Contains(t, text(ctx, t, "table.quarters"), quarter)
	require.Contains(t, text(ctx, t, "section.stats"), share+" passed in")
	require.Contains(t, text(ctx, t, "table.quarters"), fmt.Sprintf("%d of %d", passed, len(runs)))
	links := hrefs(ctx, t, "table.plans a.run, table.plans .v a")
	require.Len(t, links, min(len(runs), dashboard.DefaultRunsPerPlan)+1, "tick's runs and its last verdict link their reports")
	index, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)

	// tick's page: the recovery chart is drawn; the runs link their
	// reports.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`table.plans a.name[href="/plans/tick"]`)), chromedp.WaitReady(chromedp.CSS("section#runs"))))
	figures, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("figure.chart svg")))
	require.NoError(t, err)
	require.NotEmpty(t, figures, "tick's fault is charted")
	box, err := chromedp.Run(ctx, chromedp.Dimensions(chromedp.CSS("figure.chart svg")))
	require.NoError(t, err)
	require.Greater(t, box.Width, int64(300), "the chart is laid out")
	require.Greater(t, box.Height, int64(80))
	paths, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("figure.chart svg path")))
	require.NoError(t, err)
	require.Greater(t, len(paths), 5)
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("figure.chart svg")))
	require.NoError(t, err)
	ink := browser.Inked(t, shot)
	require.Greater(t, ink, 0.02, "the chart draws something: %.1f%% of its pixels are not background", 100*ink)
	require.Contains(t, text(ctx, t, "figure.chart figcaption"), "against its objective, 30.0s")
	links = append(links, hrefs(ctx, t, "a.report")...)
	plan, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)

	// Every report link opens the run's HTML report.
	slices.Sort(links)
	links = slices.Compact(links)
	for _, link := range links {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.base+link))
		require.NoError(t, err, link)
		require.Equal(t, int64(http.StatusOK), resp.Status, link)
		require.Equal(t, "text/html", resp.MimeType, link)
		title, err := chromedp.Run(ctx, chromedp.Title())
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(title, "Drill tick — "), "%s is tick's report: %q", link, title)
	}

	dir := t.ArtifactDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.png"), index, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard-plan.png"), plan, 0o644))
	t.Logf("screenshots: %s", dir)
	if golden.Updating() {
		require.NoError(t, os.WriteFile(dashboardImage, index, 0o644))
		require.NoError(t, os.WriteFile(dashboardPlanImage, plan, 0o644))
	}

	// Signing out clears the cookie: the index asks to sign in again.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/"), chromedp.WaitReady(chromedp.CSS("form.logout")),
		chromedp.Click(chromedp.CSS("form.logout button")), chromedp.WaitReady(chromedp.CSS("form.login"))))
	require.Contains(t, text(ctx, t, "main"), "You are signed out.")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/plans/tick"), chromedp.WaitReady(chromedp.CSS("form.login"))))

	requests, failed, console := rec.Snapshot()
	for _, u := range requests {
		require.True(t, strings.HasPrefix(u, s.base+"/") || strings.HasPrefix(u, "data:"), "every request goes to drill serve: %s", u)
	}
	require.Empty(t, failed, "no request failed")
	require.Empty(t, console, "no console message, let alone an error")
}

// text is the visible text of the first element sel matches, its white
// space squashed.
func text(ctx context.Context, t *testing.T, sel string) string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return strings.Join(strings.Fields(out), " ")
}

// hrefs are the links of the elements sel matches.
func hrefs(ctx context.Context, t *testing.T, sel string) []string {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel)))
	require.NoError(t, err, sel)
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.AttributeValue("href"))
	}
	return out
}
