package run

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/report"
)

// progress renders engine events for a person: on a terminal a status line
// that is rewritten in place, elsewhere plain timestamped lines.
type progress struct {
	w           io.Writer
	tty         bool
	status      bool // a status line is on screen
	lastPrinted time.Time
	step        string
}

func (p *progress) clearStatus() {
	if p.tty && p.status {
		fmt.Fprint(p.w, "\r\033[K")
		p.status = false
	}
}

func (p *progress) observe(ev engine.Event) {
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
	active := "none"
	if len(ev.Active) > 0 {
		sort.Strings(ev.Active)
		active = strings.Join(ev.Active, ",")
	}
	l := ev.Live
	status := fmt.Sprintf("%s  step %-20s  %4d req/5s  success %6.2f%%  p99 %-7s  active faults: %s",
		elapsed, p.step, l.Requests, l.Availability, report.FormatDuration(l.P99), active)
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

func (p *progress) done() { p.clearStatus() }
