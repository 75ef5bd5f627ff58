package html_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	reporthtml "github.com/firedrill/firedrill/pkg/report/html"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

// readmeImage is the screenshot the README shows; the browser test
// rewrites it when the tests run with -update.
const readmeImage = "../../../docs/images/report.png"

// chromium finds Debian's chromium ($FIREDRILL_CHROMIUM overrides). The
// browser test is part of the suite: without a browser it fails, naming
// the package to install, unless FIREDRILL_NO_BROWSER=1 says on purpose
// that this machine has none.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FIREDRILL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FIREDRILL_NO_BROWSER") == "1" {
		t.Skip("FIREDRILL_NO_BROWSER=1: the browser test of report.html does not run on this machine")
	}
	t.Fatal("the browser test of report.html needs Debian's chromium: apt-get install -y chromium fonts-liberation " +
		"(or set FIREDRILL_CHROMIUM to a Chrome binary; FIREDRILL_NO_BROWSER=1 opts out on purpose)")
	return ""
}

// browser starts a headless chromium with a fresh profile, no network of
// its own (no QUIC, no background or component traffic) and a 1280 px
// wide window.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// recorder collects what the page did: every request it sent, every
// request that failed, every console message.
type recorder struct {
	mu       sync.Mutex
	requests []string
	failed   []string
	console  []string
}

func (r *recorder) add(list *[]string, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
}

func (r *recorder) snapshot() (requests, failed, console []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...), append([]string(nil), r.failed...), append([]string(nil), r.console...)
}

func record(ctx context.Context) *recorder {
	rec := &recorder{}
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	fails := chromedp.Events(ctx, network.LoadingFailed)
	console := chromedp.Console(ctx)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			rec.add(&rec.requests, ev.Request.URL)
		}
	}()
	go func() {
		for ev, err := range fails {
			if err != nil {
				return
			}
			rec.add(&rec.failed, ev.ErrorText)
		}
	}()
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			rec.add(&rec.console, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
		}
	}()
	return rec
}

func TestPageInARealBrowser(t *testing.T) {
	r, tr := quickstart(t)
	page, err := reporthtml.Render(r, tr)
	require.NoError(t, err)
	dir := t.ArtifactDir()
	path := filepath.Join(dir, reporthtml.FileName)
	require.NoError(t, os.WriteFile(path, page, 0o644))
	want := strings.Count(string(page), `<figure class="chart"`)

	ctx := browser(t)
	rec := record(ctx)
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
			ink := inked(t, shot)
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

	requests, failed, console := rec.snapshot()
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

// inked is the share of an image's pixels that are not near-white.
func inked(t *testing.T, data []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !nearWhite(img, x, y) {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

func nearWhite(img image.Image, x, y int) bool {
	r, g, bl, _ := img.At(x, y).RGBA()
	return r > 0xf000 && g > 0xf000 && bl > 0xf000
}
