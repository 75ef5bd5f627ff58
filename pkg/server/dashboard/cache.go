package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/server"
)

// runKey names a run across namespaces.
type runKey struct{ namespace, id string }

// summaries caches what the dashboard reads from finished runs' reports:
// their index entries (verdicts and recoveries, not series). A finished
// run never changes, so an entry stays until the cache is full; then the
// oldest entries go first.
type summaries struct {
	max int

	mu    sync.Mutex
	m     map[runKey]*index.Entry
	order []runKey // insertion order, oldest first
}

func newSummaries(max int) *summaries {
	return &summaries{max: max, m: make(map[runKey]*index.Entry)}
}

func (c *summaries) get(k runKey) (*index.Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *summaries) put(k runKey, e *index.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	for len(c.m) >= c.max && len(c.order) > 0 {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = e
	c.order = append(c.order, k)
}

// len is how many entries are cached.
func (c *summaries) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// summary returns a finished run's entry, reading its report on a cache
// miss. A run that is gone returns ErrNotFound.
func (d *Dashboard) summary(ctx context.Context, run *server.Run) (*index.Entry, error) {
	k := runKey{run.Namespace, run.ID}
	if e, ok := d.cache.get(k); ok {
		return e, nil
	}
	got, rep, err := d.opts.Backend.Run(ctx, run.Namespace, run.ID)
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", run.ID, err)
	}
	if rep == nil {
		return nil, fmt.Errorf("run %s has no report: %w", run.ID, server.ErrNotFound)
	}
	e := index.FromReport(rep)
	// The listing is the authority on what the run is.
	e.Plan, e.RunID, e.Phase, e.Verdict = got.Plan, got.ID, got.Phase, got.Verdict
	if got.StartTime != nil {
		e.StartTime = got.StartTime.UTC()
	}
	if got.Phase.IsTerminal() {
		d.cache.put(k, &e)
	}
	return &e, nil
}

// summariesOf returns the entries of runs (finished, oldest first); runs
// whose report cannot be read are counted in missing and left out, so one
// broken report costs a point, not the page.
func (d *Dashboard) summariesOf(ctx context.Context, runs []*server.Run) (out []index.Entry, missing int) {
	out = make([]index.Entry, 0, len(runs))
	for _, run := range runs {
		e, err := d.summary(ctx, run)
		if err != nil {
			if !errors.Is(err, server.ErrNotFound) {
				log.FromContext(ctx).Warn("dashboard: a run's report could not be read", "namespace", run.Namespace, "run", run.ID, "err", err)
			}
			missing++
			continue
		}
		out = append(out, *e)
	}
	return out, missing
}
