package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// Headers the probe sets on its requests. vegeta sets seqHeader itself.
const (
	seqHeader   = "X-Vegeta-Seq"
	routeHeader = "X-Firedrill-Route"
)

// reqInfo is what the transport learns about one request that vegeta's
// Result does not carry: its route and the class of its error.
type reqInfo struct {
	route uint16
	class evidence.ErrorClass
}

// classifyingTransport wraps an http.RoundTripper and records, per vegeta
// sequence number, the route of each request and the typed class of any
// error, including errors while the body is read. vegeta keeps only an
// error's text; classifying the error value here is exact.
//
// It also enforces the probe timeout, from the start of the round trip until
// the body is closed, as a context deadline: http.Client.Timeout on a
// wrapped transport races a cancel channel against the deadline and can
// surface a timeout as a plain "request canceled".
type classifyingTransport struct {
	base    http.RoundTripper
	routes  map[string]uint16
	timeout time.Duration

	mu    sync.Mutex
	infos map[uint64]reqInfo
}

func newClassifyingTransport(base http.RoundTripper, tmpls []Template, timeout time.Duration) *classifyingTransport {
	t := &classifyingTransport{base: base, routes: map[string]uint16{}, timeout: timeout, infos: map[uint64]reqInfo{}}
	for i, tm := range tmpls {
		if _, dup := t.routes[tm.Name]; !dup {
			t.routes[tm.Name] = uint16(i)
		}
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *classifyingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	seq, err := strconv.ParseUint(req.Header.Get(seqHeader), 10, 64)
	if err != nil {
		return t.base.RoundTrip(req) // not a probe request
	}
	route, ok := t.routes[req.Header.Get(routeHeader)]
	if !ok {
		route = noRoute
	}
	t.put(seq, reqInfo{route: route})
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		t.setClass(seq, classify(ctx.Err(), err))
		cancel()
		return nil, err
	}
	resp.Body = &classifyingBody{ReadCloser: resp.Body, ctxErr: ctx.Err, cancel: cancel, t: t, seq: seq}
	return resp, nil
}

func (t *classifyingTransport) put(seq uint64, info reqInfo) {
	t.mu.Lock()
	t.infos[seq] = info
	t.mu.Unlock()
}

func (t *classifyingTransport) setClass(seq uint64, c evidence.ErrorClass) {
	t.mu.Lock()
	if info, ok := t.infos[seq]; ok && info.class == evidence.ClassNone {
		info.class = c
		t.infos[seq] = info
	}
	t.mu.Unlock()
}

// take returns and forgets what was recorded for seq.
func (t *classifyingTransport) take(seq uint64) (reqInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	info, ok := t.infos[seq]
	delete(t.infos, seq)
	return info, ok
}

// classifyingBody classifies errors that happen while vegeta reads a body.
type classifyingBody struct {
	io.ReadCloser
	// ctxErr is the request context's Err, to tell a timeout from a reset.
	ctxErr func() error
	cancel context.CancelFunc
	t      *classifyingTransport
	seq    uint64
}

// Close closes the body and releases the request's deadline.
func (b *classifyingBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (b *classifyingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.t.setClass(b.seq, classify(b.ctxErr(), err))
	}
	return n, err
}

// classify maps a request error to an error class. ctxErr is the request
// context's error: a request whose context ran out of time (the client
// timeout is a context deadline) is a timeout whatever the transport said.
func classify(ctxErr, err error) evidence.ErrorClass {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return evidence.ClassNone
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(ctxErr, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return evidence.ClassTimeout
	case errors.As(err, &dnsErr):
		return evidence.ClassDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return evidence.ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return evidence.ClassReset
	default:
		return evidence.ClassOther
	}
}

// classifyText is the fallback for errors the transport never saw (for
// example a request that could not be built): it reads vegeta's error text.
func classifyText(msg string) evidence.ErrorClass {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "timeout"), strings.Contains(m, "deadline exceeded"):
		return evidence.ClassTimeout
	case strings.Contains(m, "no such host"), strings.Contains(m, "server misbehaving"):
		return evidence.ClassDNS
	case strings.Contains(m, "connection refused"):
		return evidence.ClassRefused
	case strings.Contains(m, "reset by peer"), strings.Contains(m, "broken pipe"), strings.Contains(m, "eof"):
		return evidence.ClassReset
	default:
		return evidence.ClassOther
	}
}
