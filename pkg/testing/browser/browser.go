package browser

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Chromium finds Debian's chromium ($FIREDRILL_CHROMIUM overrides).
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("FIREDRILL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FIREDRILL_NO_BROWSER") == "1" {
		tb.Skip("FIREDRILL_NO_BROWSER=1: the browser tests do not run on this machine")
	}
	tb.Fatal("the browser tests need Debian's chromium: apt-get install -y chromium fonts-liberation " +
		"(or set FIREDRILL_CHROMIUM to a Chrome binary; FIREDRILL_NO_BROWSER=1 opts out on purpose)")
	return ""
}

// New starts a headless chromium with a fresh profile, no network of its
// own (no QUIC, no background or component traffic) and a window of width
// by height pixels; it is stopped when the test ends.
func New(tb testing.TB, width, height int) context.Context {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(tb)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(tb.TempDir()), chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	tb.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// Recorder collects what the pages did: every request they sent, every
// request that failed, every console message.
type Recorder struct {
	mu       sync.Mutex
	requests []string
	failed   []string
	console  []string
}

func (r *Recorder) add(list *[]string, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
}

// Snapshot returns what was recorded so far.
func (r *Recorder) Snapshot() (requests, failed, console []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...), append([]string(nil), r.failed...), append([]string(nil), r.console...)
}

// Record starts recording the browser of ctx.
func Record(ctx context.Context) *Recorder {
	rec := &Recorder{}
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

// Inked is the share of a PNG's pixels that are not near-white.
func Inked(tb testing.TB, data []byte) float64 {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(tb, err)
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
