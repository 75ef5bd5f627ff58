package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/probe"
)

// newProber configures the run's probe from the plan's load section.
func (r *Run) newProber(ctx context.Context) (Prober, error) {
	l := r.plan.Spec.Load
	opts := probe.Options{Endpoint: r.endpoint, Seed: seedOf(r.id)}
	if l.Rate != nil {
		opts.Rate = int(*l.Rate)
	}
	if l.Timeout != nil {
		opts.Timeout = l.Timeout.Duration
	}
	needPools := false
	for _, t := range l.Requests {
		w := 1
		if t.Weight != nil {
			w = int(*t.Weight)
		}
		opts.Templates = append(opts.Templates, probe.Template{Name: t.Name, Method: t.Method, Path: t.Path, Weight: w})
		needPools = needPools || strings.Contains(t.Path, "{")
	}
	if l.Pools != nil {
		opts.Pools = probe.Pools{Users: l.Pools.Users, Items: l.Pools.Items, Queries: l.Pools.Queries}
	}
	if needPools && len(opts.Pools.Users)+len(opts.Pools.Items)+len(opts.Pools.Queries) == 0 {
		pools, err := r.fetchPools(ctx)
		if err != nil {
			return nil, err
		}
		opts.Pools = pools
	}
	p, err := r.e.opts.NewProber(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring the probe: %w", err)
	}
	return p, nil
}

// fetchPools asks the system under test for placeholder values, retrying
// for a while: a freshly started system may not answer at once.
func (r *Run) fetchPools(ctx context.Context) (probe.Pools, error) {
	clk := r.e.opts.Clock
	deadline := clk.Now().Add(30 * time.Second)
	for {
		pools, err := probe.FetchPools(ctx, r.e.opts.HTTPClient, r.endpoint, 200)
		if err == nil {
			return pools, nil
		}
		if clk.Now().After(deadline) {
			return probe.Pools{}, fmt.Errorf("the plan has no load.pools and the system under test did not provide them (GET %s/v1/sample): %w", r.endpoint, err)
		}
		select {
		case <-ctx.Done():
			return probe.Pools{}, fmt.Errorf("fetching load pools: %w", context.Cause(ctx))
		case <-clk.After(500 * time.Millisecond):
		}
	}
}

// seedOf derives the probe's seed from the run id (FNV-1a).
func seedOf(s string) int64 {
	var h int64 = 1469598103934665603
	for _, c := range []byte(s) {
		h = (h ^ int64(c)) * 1099511628211
	}
	return h
}
