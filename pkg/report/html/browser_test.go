package html_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
	"github.com/firedrill/firedrill/pkg/testing/browser"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// readmeImage is the screenshot the README shows; the browser test
// rewrites it when the tests run with -update.
const readmeImage = "../../../docs/images/report.png"

func TestPageInARealBrowser(t *testing.T) {
	r, tr := quickstart(t)
	page, err := reporthtml.Render(r, tr)
	require.NoError(t, err)
	dir := t.ArtifactDir()
	path := filepath.Join(dir, reporthtml.FileName)
	require.NoError(t, os.WriteFile(path, page, 0o644))
	want := strings.Count(string(page), `<figure class="chart"`)

	ctx := browser.New(t, 1280, 900)
	rec := browser.Record(ctx)
	// Offline, and with JavaScript off: the page must need neither.
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return fmt.Errorf("going offline: %w", err)
		}
		if _, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			return fmt.Errorf("disabling JavaScript: %w", err)
		}
		return nil
	})))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitReady(chromedp.CSS("footer"))))

	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "Drill quickstart — PASS", title)
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("header.banner h1")))
	require.NoError(t, err)
	require.Equal(t, "quickstart PASS", strings.Join(strings.Fields(banner), " "), "the verdict is at the top")

	figures, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("figure.chart")))
	require.NoError(t, err)
	require.Len(t, figures, want, "every chart is in the page")
	for _, f := range figures {
		name := f.AttributeValue("data-chart")
		t.Run(name, func(t *testing.T) {
			sel := fmt.Sprintf(`figure.chart[data-chart=%q] svg`, name)
			box, err := chromedp.Run(ctx, chromedp.Dimensions(chromedp.CSS(sel)))
			require.NoError(t, err)
			require.Greater(t, box.Width, int64(300), "the chart is laid out")
			require.Greater(t, box.Height, int64(80))
			paths, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel+" path")))
			require.NoError(t, err)
			require.Greater(t, len(paths), 5)
			shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
			require.NoError(t, err)
			ink := browser.Inked(t, shot)
			require.Greater(t, ink, 0.02, "the chart draws something: %.1f%% of its pixels are not background", 100*ink)
		})
	}

	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.png"), full, 0o644))
	t.Logf("screenshot: %s", filepath.Join(dir, "report.png"))
	if golden.Updating() {
		shot, err := readmeShot(ctx)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(readmeImage), 0o755))
		require.NoError(t, os.WriteFile(readmeImage, shot, 0o644))
	}

	requests, failed, console := rec.Snapshot()
	require.Equal(t, []string{"file://" + path}, requests, "the page loads nothing but itself")
	require.Empty(t, failed, "no request failed")
	require.Empty(t, console, "no console message, let alone an error")
}

// readmeShot is the top of the page down to the whole-drill chart, as the README
// shows it.
func readmeShot(ctx context.Context) ([]byte, error) {
	return chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: ptrTo(true), FromSurface: ptrTo(true),
			Clip: &page.Viewport{X: 0, Y: 0, Width: 1280, Height: 2230, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return res.Data, nil
	})
}

func ptrTo[T any](v T) *T { return &v }
