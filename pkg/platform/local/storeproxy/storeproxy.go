package storeproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Toxic names used by the sandbox.
const (
	toxicSlow = "firedrill-slow"
	toxicHang = "firedrill-hang"
)

// Proxies is a set of named TCP proxies.
type Proxies struct {
	srv *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[string]*toxiproxy.Proxy
}

// New returns an empty set of proxies.
func New() *Proxies {
	return &Proxies{
		srv:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies: map[string]*toxiproxy.Proxy{},
	}
}

// Add starts a proxy named name on a free loopback port in front of
// upstream and returns its address.
func (p *Proxies) Add(name, upstream string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.proxies[name]; ok {
		return "", fmt.Errorf("proxy %s exists", name)
	}
	px := toxiproxy.NewProxy(p.srv, name, "127.0.0.1:0", upstream)
	if err := p.srv.Collection.Add(px, true); err != nil {
		return "", fmt.Errorf("starting proxy %s: %w", name, err)
	}
	p.proxies[name] = px
	return px.Listen, nil
}

func (p *Proxies) get(name string) (*toxiproxy.Proxy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	px, ok := p.proxies[name]
	if !ok {
		return nil, fmt.Errorf("no proxy %s", name)
	}
	return px, nil
}

// Addr returns the listen address of a proxy.
func (p *Proxies) Addr(name string) (string, error) {
	px, err := p.get(name)
	if err != nil {
		return "", err
	}
	return px.Listen, nil
}

// SetUpstream points a proxy at a new upstream, keeping its address.
func (p *Proxies) SetUpstream(name, upstream string) error {
	px, err := p.get(name)
	if err != nil {
		return err
	}
	if px.Upstream == upstream {
		return nil
	}
	if err := px.Update(&toxiproxy.Proxy{Listen: px.Listen, Upstream: upstream, Enabled: true}); err != nil {
		return fmt.Errorf("pointing proxy %s at %s: %w", name, upstream, err)
	}
	return nil
}

func (p *Proxies) addToxic(name, toxic, body string) error {
	px, err := p.get(name)
	if err != nil {
		return err
	}
	if px.Toxics.GetToxic(toxic) != nil {
		return nil
	}
	if _, err := px.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		if errors.Is(err, toxiproxy.ErrToxicAlreadyExists) {
			return nil
		}
		return fmt.Errorf("adding toxic %s to proxy %s: %w", toxic, name, err)
	}
	return nil
}

// Slow delays every response of the proxy by latency. It is idempotent.
func (p *Proxies) Slow(name string, latency time.Duration) error {
	return p.addToxic(name, toxicSlow, fmt.Sprintf(
		`{"name":%q,"type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":%d}}`,
		toxicSlow, latency.Milliseconds()))
}

// Hang makes the proxy accept connections and never answer. It is
// idempotent.
func (p *Proxies) Hang(name string) error {
	return p.addToxic(name, toxicHang, fmt.Sprintf(
		`{"name":%q,"type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`, toxicHang))
}

// Heal removes the sandbox's toxics from a proxy. It is idempotent.
func (p *Proxies) Heal(ctx context.Context, name string) error {
	px, err := p.get(name)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range []string{toxicSlow, toxicHang} {
		if px.Toxics.GetToxic(t) == nil {
			continue
		}
		if err := px.Toxics.RemoveToxic(ctx, t); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			errs = append(errs, fmt.Errorf("removing toxic %s from proxy %s: %w", t, name, err))
		}
	}
	return errors.Join(errs...)
}

// Toxic reports the sandbox toxic active on a proxy: "slow", "hang" or "".
func (p *Proxies) Toxic(name string) string {
	px, err := p.get(name)
	if err != nil {
		return ""
	}
	switch {
	case px.Toxics.GetToxic(toxicHang) != nil:
		return "hang"
	case px.Toxics.GetToxic(toxicSlow) != nil:
		return "slow"
	}
	return ""
}

// Close stops every proxy and closes its connections.
func (p *Proxies) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, px := range p.proxies {
		px.Stop()
		delete(p.proxies, name)
	}
}
