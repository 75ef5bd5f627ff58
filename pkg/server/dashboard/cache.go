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

// recentKey identifies the latest finished runs of a plan that a trend
// is computed over: finished runs never change and are listed by start
// time, so the newest, the oldest and how many name the set.
type recentKey struct {
	newest, oldest string
	n              int
}

// recent caches, by plan, each fault's latest recovery over its latest
// finished runs, so an index load only recomputes the plans with a new
// finished run (or a pruned one).
type recent struct {
	max int

	mu sync.Mutex
	m  map[planKey]recentEntry
}

type recentEntry struct {
	key        recentKey
	recoveries []recovery
}

func newRecent(max int) *recent { return &recent{max: max, m: make(map[planKey]recentEntry)} }

func (c *recent) get(p planKey, k recentKey) ([]recovery, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[p]
	if !ok || e.key != k {
		return nil, false
	}
	return e.recoveries, true
}

func (c *recent) put(p planKey, k recentKey, recs []recovery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[p]; !ok && len(c.m) >= c.max {
		// Plans come and go rarely: start afresh rather than track age.
		clear(c.m)
	}
	c.m[p] = recentEntry{key: k, recoveries: recs}
}

// keyOf is the key of finished runs, oldest first.
func keyOf(runs []*server.Run) recentKey {
	if len(runs) == 0 {
		return recentKey{}
	}
	return recentKey{newest: runs[len(runs)-1].ID, oldest: runs[0].ID, n: len(runs)}
}
