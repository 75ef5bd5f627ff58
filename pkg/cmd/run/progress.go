package run

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/report"
)

// progress renders engine events on stderr. For a person: on a terminal
// a status line rewritten in place, elsewhere plain timestamped lines.
// With --log-format json: one log record per event, like every other log
// line, so stderr stays JSON.
type progress struct {
	w           io.Writer
	tty         bool
	logger      *slog.Logger // set for log records
	status      bool         // a status line is on screen
	lastPrinted time.Time
	step        string
}

func newProgress(opts Options) *progress {
	p := &progress{w: opts.Err, tty: isTerminal(opts.Err)}
	if opts.LogProgress {
		p.logger = slog.New(slog.NewJSONHandler(opts.Err, nil))
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) clearStatus() {
	if p.tty && p.status {
		fmt.Fprint(p.w, "\r\033[K")
		p.status = false
	}
}

// line writes a line that is not an engine event (cleanup, resume).
func (p *progress) line(msg string) {
	if p.logger != nil {
		p.logger.Info(msg)
		return
	}
	p.clearStatus()
	fmt.Fprintln(p.w, msg)
}

func (p *progress) observe(ev engine.Event) {
	if p.logger != nil {
		p.log(ev)
		return
	}
	elapsed := fmt.Sprintf("%6.1fs", ev.Elapsed.Seconds())
	if ev.Type == engine.EventStep {
		p.step = ev.Step
	}
	if ev.Type != engine.EventProgress {
		p.clearStatus()
		line := fmt.Sprintf("%s  %-10s", elapsed, ev.Type)
		if ev.Step != "" {
			line += " " + ev.Step + ":"
		}
		fmt.Fprintln(p.w, strings.TrimRight(line+" "+ev.Message, " "))
		return
	}
	status := fmt.Sprintf("%s  step %-20s  %4d req  success %7s  p99 %-7s  active faults: %s",
		elapsed, p.step, ev.Live.Requests, pct(ev), report.FormatDuration(ev.Live.P99.Duration), active(ev))
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+status)
		p.status = true
		return
	}
	if ev.At.Sub(p.lastPrinted) >= 5*time.Second {
		p.lastPrinted = ev.At
		fmt.Fprintln(p.w, status)
	}
}

// log writes an event as a JSON log record.
func (p *progress) log(ev engine.Event) {
	attrs := []any{"run", ev.RunID, "event", string(ev.Type), "elapsed", ev.Elapsed.Round(time.Millisecond).String()}
	if ev.Step != "" {
		attrs = append(attrs, "step", ev.Step)
	}
	if ev.Type == engine.EventProgress {
		attrs = append(attrs, "requests", ev.Live.Requests, "success", pct(ev), "p99", ev.Live.P99.Duration.String(), "active", active(ev))
	}
	p.logger.Info(ev.Message, attrs...)
}

func pct(ev engine.Event) string {
	if ev.Live.Availability == "" {
		return "-"
	}
	return string(ev.Live.Availability) + "%"
}

func active(ev engine.Event) string {
	if len(ev.Active) == 0 {
		return "none"
	}
	names := append([]string(nil), ev.Active...)
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (p *progress) done() { p.clearStatus() }
