package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
)

// sinceSlack is added to the timeout when Since scans back from the newest
// sample: completions recorded out of order by less than this are found.
const sinceSlack = time.Second

// noRoute marks a sample whose route is unknown; it renders as "".
const noRoute = uint16(0xffff)

// Prober sends open-loop synthetic load and records samples. Create it with
// New; Run it once. Samples, Since and Live are safe to call from other
// goroutines while it runs, and after.
type Prober struct {
	opts   Options
	picker *picker
	tr     *classifyingTransport
	client *http.Client
	// headers holds each template's request headers (Options.Header plus
	// the route); vegeta copies them into every request and never writes
	// them, so they are shared.
	headers []http.Header
	started atomic.Bool

	mu    sync.Mutex
	store *store
}

// New validates opts, applies defaults and returns a Prober ready to Run.
func New(opts Options) (*Prober, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("invalid probe options: %w", err)
	}
	base := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   o.Timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        o.MaxWorkers,
		MaxIdleConnsPerHost: o.MaxWorkers,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: o.Timeout,
		ForceAttemptHTTP2:   true,
	}
	tr := newClassifyingTransport(base, o.Templates, o.Timeout)
	routes := make([]string, len(o.Templates))
	headers := make([]http.Header, len(o.Templates))
	for i, t := range o.Templates {
		routes[i] = t.Name
		headers[i] = o.Header.Clone()
		if headers[i] == nil {
			headers[i] = http.Header{}
		}
		headers[i].Set(routeHeader, t.Name)
	}
	return &Prober{
		opts:    o,
		picker:  newPicker(o.Endpoint, o.Templates, o.Pools, o.Seed),
		tr:      tr,
		headers: headers,
		client: &http.Client{
			// The transport enforces Timeout as a context deadline.
			Transport: tr,
			// A probe judges the response it got: 3xx counts as success.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		store: newStore(routes),
	}, nil
}

// Run sends requests at the configured rate until ctx is done, then waits
// for requests in flight (at most Timeout) and returns. It records every
// request. Run may be called once.
func (p *Prober) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("probe: Run called twice")
	}
	logger := log.FromContext(ctx).With("endpoint", p.opts.Endpoint)
	initial := uint64(min(p.opts.MaxWorkers, max(10, p.opts.Rate/10)))
	atk := vegeta.NewAttacker(
		vegeta.Client(p.client),
		vegeta.Workers(initial),
		vegeta.MaxWorkers(uint64(p.opts.MaxWorkers)),
		vegeta.MaxBody(0),
	)
	pacer := vegeta.ConstantPacer{Freq: p.opts.Rate, Per: time.Second}

	logger.Info("probe started", "rate", p.opts.Rate, "timeout", p.opts.Timeout, "maxWorkers", p.opts.MaxWorkers)
	results := atk.Attack(vegeta.Targeter(p.target), pacer, 0, "firedrill")
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stopped:
		}
	}()
	n := 0
	for res := range results {
		p.record(res)
		n++
	}
	close(stopped)
	logger.Info("probe stopped", "samples", n)
	return nil
}

// target is the vegeta.Targeter: the next templated request.
func (p *Prober) target(t *vegeta.Target) error {
	i, u := p.picker.next()
	t.Method = p.opts.Templates[i].Method
	t.URL = u
	t.Header = p.headers[i]
	return nil
}

// record turns a vegeta result into a sample and stores it.
func (p *Prober) record(res *vegeta.Result) {
	info, seen := p.tr.take(res.Seq)
	smp := evidence.Sample{At: res.Timestamp, Latency: res.Latency, Code: int(res.Code)}
	switch {
	case info.class != evidence.ClassNone:
		smp.Err = info.class
		smp.Code = 0
	case res.Code == 0 && res.Error != "":
		smp.Err = classifyText(res.Error)
	case res.Code == 0:
		smp.Err = evidence.ClassOther // no response and no error: never expected
	}
	route := info.route
	if !seen {
		route = noRoute // the request was never sent
	}
	p.mu.Lock()
	p.store.add(smp, route)
	p.mu.Unlock()
}

// Samples returns a copy of every sample so far, ordered by send time.
func (p *Prober) Samples() []evidence.Sample {
	p.mu.Lock()
	sn := p.store.snapshot()
	p.mu.Unlock()
	return sn.samples()
}

// Since returns a copy of the samples sent at or after t, ordered by send
// time. Its cost is proportional to the samples since t, not to the drill.
func (p *Prober) Since(t time.Time) []evidence.Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store.since(t, p.opts.Timeout+sinceSlack)
}

// AppendSince appends the samples sent at or after t to dst, ordered by
// send time as Since returns them, and returns the extended slice. Passing
// the previous result, truncated (buf[:0]), reuses its space: a caller that
// asks every tick allocates nothing once the buffer has grown to the window.
func (p *Prober) AppendSince(dst []evidence.Sample, t time.Time) []evidence.Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.store.appendSince(dst, t, p.opts.Timeout+sinceSlack)
}
