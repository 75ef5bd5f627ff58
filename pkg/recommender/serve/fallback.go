package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/store"
)

// SnapshotFile is the name of the popularity snapshot in the cache directory.
const SnapshotFile = "popularity-snapshot.json"

// Snapshot is the persisted popularity fallback: the most popular items of
// the last model that loaded. A bare JSON array of results is accepted too.
type Snapshot struct {
	// Version is the version of the model the snapshot was taken from.
	Version string `json:"version"`
	// Digest is that model's artifact digest, if it came from the store.
	Digest string `json:"digest,omitempty"`
	// TakenAt is when the snapshot was written.
	TakenAt time.Time `json:"takenAt"`
	// Results are the items, most popular first.
	Results []model.Result `json:"results"`
}

// ReadSnapshot reads a snapshot file written by WriteSnapshot, or a bare JSON
// array of results.
func ReadSnapshot(path string) (Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading popularity snapshot: %w", err)
	}
	var snap Snapshot
	trimmed := strings.TrimSpace(string(b))
	if strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(b, &snap.Results)
	} else {
		err = json.Unmarshal(b, &snap)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("decoding popularity snapshot %s: %w", path, err)
	}
	return snap, nil
}

// WriteSnapshot writes snap to path atomically.
func WriteSnapshot(path string, snap Snapshot) error {
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encoding popularity snapshot: %w", err)
	}
	return store.WriteFileAtomic(path, b)
}

// loadSnapshot returns the first usable snapshot: the one persisted in
// cacheDir, then fallbackPath. A missing file is not an error.
func loadSnapshot(cacheDir, fallbackPath string) (Snapshot, string, error) {
	var errs []error
	for _, p := range []string{snapshotPath(cacheDir), fallbackPath} {
		if p == "" {
			continue
		}
		snap, err := ReadSnapshot(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return snap, p, nil
	}
	return Snapshot{}, "", errors.Join(errs...)
}

func snapshotPath(cacheDir string) string {
	if cacheDir == "" {
		return ""
	}
	return filepath.Join(cacheDir, SnapshotFile)
}

// fallback answers requests from a popularity snapshot when no model is
// loaded. It is immutable.
type fallback struct {
	results []model.Result
	byItem  map[string]int
}

func newFallback(results []model.Result) *fallback {
	f := &fallback{results: results, byItem: make(map[string]int, len(results))}
	for i, r := range results {
		f.byItem[r.Item] = i
	}
	return f
}

func (f *fallback) top(k int, keep func(model.Result) bool) []model.Result {
	out := make([]model.Result, 0, min(k, len(f.results)))
	for _, r := range f.results {
		if len(out) == k {
			break
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// popular returns the top k items, optionally within one category.
func (f *fallback) popular(category string, k int) []model.Result {
	if category == "" {
		return f.top(k, nil)
	}
	return f.top(k, func(r model.Result) bool { return r.Category == category })
}

// similar returns popular items of the item's category, then any popular
// items, never the item itself.
func (f *fallback) similar(item string, k int) []model.Result {
	notItem := func(r model.Result) bool { return r.Item != item }
	i, ok := f.byItem[item]
	if !ok {
		return f.top(k, notItem)
	}
	cat := f.results[i].Category
	out := f.top(k, func(r model.Result) bool { return r.Item != item && r.Category == cat })
	if len(out) < k {
		out = append(out, f.top(k-len(out), func(r model.Result) bool { return r.Item != item && r.Category != cat })...)
	}
	return out
}

// search ranks snapshot items by how many query terms their title or
// category contains, popularity breaking ties; with no match it returns the
// most popular items.
func (f *fallback) search(query string, k int) []model.Result {
	terms := strings.Fields(strings.ToLower(query))
	type hit struct {
		r       model.Result
		matches int
		rank    int
	}
	var hits []hit
	for i, r := range f.results {
		text := strings.ToLower(r.Title + " " + r.Category)
		n := 0
		for _, t := range terms {
			if strings.Contains(text, t) {
				n++
			}
		}
		if n > 0 {
			hits = append(hits, hit{r: r, matches: n, rank: i})
		}
	}
	if len(hits) == 0 {
		return f.top(k, nil)
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.matches - a.matches })
	out := make([]model.Result, 0, min(k, len(hits)))
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.r)
	}
	return out
}

func (f *fallback) sample(n int) []string {
	items := make([]string, 0, min(n, len(f.results)))
	for _, r := range f.results[:min(n, len(f.results))] {
		items = append(items, r.Item)
	}
	return items
}
