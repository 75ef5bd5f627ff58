package html_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	xhtml "golang.org/x/net/html"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/archivetest"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/report"
	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// quickstart is a real run of the quickstart drill with the trend of the
// six real runs in its archive.
func quickstart(tb testing.TB) (*report.Report, *trend.Trend) {
	tb.Helper()
	r := archivetest.Quickstart(tb)
	idx := archivetest.QuickstartIndex(tb)
	tr := trend.Analyze(r.Plan.Name, idx.Select(index.Query{Plan: r.Plan.Name}), r.RunID, trend.DefaultRule())
	return r, &tr
}

// failing is a synthetic run whose second fault recovers past its
// objective and regresses against five earlier runs, whose fifth never
// recovers, and whose last could not be injected.
func failing(tb testing.TB) (*report.Report, *trend.Trend) {
	tb.Helper()
	start := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	var runs []index.Entry
	for i := range 5 {
		r := archivetest.Drill(archivetest.DrillOptions{Plan: "nightly", RunID: "nightly-00" + string(rune('1'+i)), Start: start.Add(time.Duration(i-5) * 24 * time.Hour), Duration: 3 * time.Minute, RTO: 6 * time.Second, Seed: uint64(i)})
		runs = append(runs, index.FromReport(r))
	}
	r := archivetest.Drill(archivetest.DrillOptions{
		Plan: "nightly", RunID: "nightly-006", Start: start, Duration: 3 * time.Minute, RTO: 6 * time.Second,
		Faults: 5, Slower: []float64{1, 4, 1, 1.5, 20}, Seed: 9,
	})
	// A runbook step whose inject action failed: an error, no timeline.
	r.Steps = append(r.Steps, v1alpha1.StepResult{Name: "flush-dns", Kind: v1alpha1.StepFault, Phase: v1alpha1.RunError, Fault: &v1alpha1.FaultResult{
		Type: "exec", Targets: []v1alpha1.FaultTarget{{Kind: "action", Name: "flush-dns"}}, Error: "inject action exited 1: permission denied",
		Actions: []v1alpha1.ActionResult{{Phase: "inject", ExitCode: 1, Error: "exit status 1"}},
	}})
	tr := trend.Analyze("nightly", append(runs, index.FromReport(r)), r.RunID, trend.DefaultRule())
	return r, &tr
}

// withoutTrend is the quickstart run rendered without the archive.
func withoutTrend(tb testing.TB) (*report.Report, *trend.Trend) {
	tb.Helper()
	r, _ := quickstart(tb)
	return r, nil
}

func TestPageStructure(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		input  func(testing.TB) (*report.Report, *trend.Trend)
	}{
		{name: "a real quickstart run with the trend of six runs", golden: "testdata/quickstart.outline", input: quickstart},
		{name: "a failing run with a regression", golden: "testdata/failing.outline", input: failing},
		{name: "a run rendered without the archive", golden: "testdata/no-trend.outline", input: withoutTrend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, tr := tt.input(t)
			page, err := reporthtml.Render(r, tr)
			require.NoError(t, err)
			golden.Assert(t, tt.golden, []byte(outline(t, page)))
		})
	}
}

func TestFailingRunShowsTheVerdictAndTheRegressionAtTheTop(t *testing.T) {
	r, tr := failing(t)
	require.Equal(t, "Failed", string(r.Phase), "the fixture fails")
	require.NotEmpty(t, tr.Regressions(), "the fixture regresses")
	page, err := reporthtml.Render(r, tr)
	require.NoError(t, err)
	out := outline(t, page)
	banner := out[strings.Index(out, "header.banner"):strings.Index(out, "main")]
	require.Contains(t, banner, "header.banner.fail")
	require.Contains(t, banner, "h1: nightly FAIL")
	verdict := out[strings.Index(out, "section#verdict"):strings.Index(out, "h3: Objectives")]
	require.Contains(t, verdict, "h3: Regressions against earlier runs")
	require.Contains(t, verdict, "li: nodeDrain-2:")
	require.Contains(t, out, "p.error: Error: inject action exited 1: permission denied")
	require.Contains(t, out, "h2: flush-dns exec ERROR")
	require.Contains(t, out, "p.missing: The fault was not injected, so there is no timeline.")
	require.Contains(t, out, "tr: podKill-5 | podKill | not recovered |")
}

func TestPageIsSelfContained(t *testing.T) {
	r, tr := quickstart(t)
	page, err := reporthtml.Render(r, tr)
	require.NoError(t, err)
	doc, err := xhtml.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	var walk func(*xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.ElementNode {
			require.NotContains(t, []string{"script", "link", "img", "iframe", "object", "embed"}, n.Data, "no external or active content")
			for _, a := range n.Attr {
				require.False(t, strings.HasPrefix(a.Key, "on"), "no event handler %s on %s", a.Key, n.Data)
				if a.Key == "src" || a.Key == "href" || a.Key == "xlink:href" {
					t.Errorf("%s has %s=%q: the page must load nothing", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.NotRegexp(t, regexp.MustCompile(`url\(|@import|https?://[^"<\s]*\.(css|js|woff2?|png|svg)`), string(page))
	require.Contains(t, string(page), `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`)
}

func TestEveryChartHasADrawing(t *testing.T) {
	for _, input := range []func(testing.TB) (*report.Report, *trend.Trend){quickstart, failing} {
		r, tr := input(t)
		page, err := reporthtml.Render(r, tr)
		require.NoError(t, err)
		require.NotContains(t, string(page), "could not be drawn", "no chart failed to draw")
		figures := regexp.MustCompile(`(?s)<figure class="chart" data-chart="([^"]+)">\s*<svg (.*?)</svg>`).FindAllStringSubmatch(string(page), -1)
		// The RTO summary, the overview, per fault a timeline and an RTO
		// chart, and one trend chart per recovery.
		recoveries, injected := 0, 0
		for _, s := range r.Faults() {
			recoveries += len(report.Recoveries(s.Name, s.Fault))
			if s.Fault.Injected != nil {
				injected++
			}
		}
		require.Len(t, figures, 2+2*injected+recoveries)
		for _, f := range figures {
			require.Greater(t, strings.Count(f[2], "<path "), 5, "chart %s draws", f[1])
		}
	}
}

func TestAOneHourDrillStaysSmall(t *testing.T) {
	r := archivetest.Drill(archivetest.DrillOptions{Duration: time.Hour, Rate: 50, Faults: 8})
	require.Equal(t, 180_000, r.Samples)
	page, err := reporthtml.Render(r, nil)
	require.NoError(t, err)
	require.Less(t, len(page), 2<<20, "report.html of a one-hour drill is under 2 MB")
	t.Logf("one-hour drill, 180,000 samples, 8 faults: report.html is %d bytes", len(page))
}
