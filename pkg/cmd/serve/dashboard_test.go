package serve_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/cmd/serve"
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
// plan on platform none and a plan never run; chromium, with JavaScript
// off, signs in through the form with the token and reads the dashboard:
// the plans with their schedule, next run and last verdict, the pass share
// of this quarter, the plan's recovery chart drawn, and every report link
// opening the run's HTML report; the pages load nothing from elsewhere and
// log nothing. Signing out clears the cookie.
func TestDashboardInARealBrowser(t *testing.T) {
	ctx := browser.New(t, 1280, 900)
	s := newService(t)
	sut := okServer(t)
	// tick keeps its runs while the test reads them (3 by default).
	s.write("tick.yaml", drillPlan("tick", "@every 2s", sut, filepath.Join(t.TempDir(), "fault"), "")+"  successfulRunsHistoryLimit: 100\n")
	s.write("by-hand.yaml", drillPlan("by-hand", "", sut, filepath.Join(t.TempDir(), "fault"), ""))
	s.start(serve.LocalOptions{})
	require.Eventually(t, func() bool {
		runs := s.runs("?plan=tick&phase=Succeeded")
		return len(runs) >= 3 && runs[2].Reports != nil
	}, 90*time.Second, 200*time.Millisecond, "three scheduled runs finish and are stored")

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
	rows := text(ctx, t, "table.plans tbody")
	require.Contains(t, rows, "tick")
	require.Contains(t, rows, "@every 2s")
	require.Regexp(t, `\d{4}-\d\d-\d\d \d\d:\d\d UTC \((in \d+s|now|due)\)`, rows, "tick's next run is seconds away")
	require.Contains(t, rows, "PASS")
	require.Contains(t, rows, "by-hand")
	require.Contains(t, rows, "on demand")
	require.Contains(t, rows, "never run")
	require.Contains(t, rows, "flag", "tick's fault step shows its latest recovery")
	now := time.Now().UTC()
	quarter := fmt.Sprintf("%d Q%d (this quarter)", now.Year(), (int(now.Month())-1)/3+1)
	require.Contains(t, text(ctx, t, "table.quarters"), quarter)
	require.Contains(t, text(ctx, t, "section.stats"), "100% passed in")
	links := hrefs(ctx, t, "table.plans a.run, table.plans .v a")
	require.GreaterOrEqual(t, len(links), 4, "tick's three runs and its last verdict link their reports")
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
		require.True(t, strings.HasPrefix(title, "Drill tick — PASS"), "%s is tick's report: %q", link, title)
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
