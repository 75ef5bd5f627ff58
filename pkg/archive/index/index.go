package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Schema identifies the index format. It changes when a field changes
// meaning or is removed; readers refuse other schemas and the archive
// rebuilds the index from its reports.
const Schema = "firedrill.dev/archive-index/v1"

// FileName is the index's file in a directory archive.
const FileName = "index.json"

// Index is the catalogue of an archive: every run it holds, ordered by
// start time, and the report sets it could not read.
type Index struct {
	// Schema is Schema.
	Schema string `json:"schema"`
	// Runs are the archived runs, oldest first (by start time, then plan,
	// then run id).
	Runs []Entry `json:"runs"`
	// Problems are report sets found in the archive that are corrupt or
	// partial; they are named here and left out of Runs.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is a report set that could not be read. It is named and skipped,
// never fatal to a listing.
type Problem struct {
	// Path locates the report set in its archive.
	Path string `json:"path"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

// Error implements error: "<path>: <reason>".
func (p Problem) Error() string { return p.Path + ": " + p.Reason }

// ErrNotFound is returned when a run is not in the index.
var ErrNotFound = errors.New("no such run in the archive")

// New returns an empty index.
func New() *Index { return &Index{Schema: Schema, Runs: []Entry{}} }

// Decode reads an index file. It decodes with the json/v2 prototype
// (github.com/go-json-experiment/json), which reads the index of ten
// thousand runs in about half the CPU time of encoding/json: listing the
// archive is mostly this.
func Decode(data []byte) (*Index, error) {
	idx := &Index{}
	if err := jsonv2.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("decoding the archive index: %w", err)
	}
	if idx.Schema != Schema {
		return nil, fmt.Errorf("archive index schema %q is not %q", idx.Schema, Schema)
	}
	if !slices.IsSortedFunc(idx.Runs, compare) {
		slices.SortFunc(idx.Runs, compare)
	}
	return idx, nil
}

// DecodeRuns reads an index file without the faults of its runs: what a
// listing of runs needs, in about half the time of Decode and a twentieth
// of its allocations. The entries' Faults are nil.
func DecodeRuns(data []byte) (*Index, error) {
	var lean struct {
		Schema   string    `json:"schema"`
		Runs     []runOnly `json:"runs"`
		Problems []Problem `json:"problems"`
	}
	if err := jsonv2.Unmarshal(data, &lean); err != nil {
		return nil, fmt.Errorf("decoding the archive index: %w", err)
	}
	if lean.Schema != Schema {
		return nil, fmt.Errorf("archive index schema %q is not %q", lean.Schema, Schema)
	}
	idx := &Index{Schema: lean.Schema, Runs: make([]Entry, len(lean.Runs)), Problems: lean.Problems}
	for i := range lean.Runs {
		idx.Runs[i] = lean.Runs[i].Entry
	}
	if !slices.IsSortedFunc(idx.Runs, compare) {
		slices.SortFunc(idx.Runs, compare)
	}
	return idx, nil
}

// runOnly is an entry whose faults are skipped, not decoded.
type runOnly struct {
	Entry
	Faults skipped `json:"faults"`
}

// skipped reads a JSON value and keeps nothing of it.
type skipped struct{}

// UnmarshalJSONFrom implements the json/v2 UnmarshalerFrom interface.
func (*skipped) UnmarshalJSONFrom(dec *jsontext.Decoder) error { return dec.SkipValue() }

// Encode writes the index with one run per line, so it stays readable and
// greppable and a diff of two versions shows the runs that changed.
func (x *Index) Encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{\"schema\": \"" + Schema + "\",\n\"runs\": [")
	for i := range x.Runs {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n")
		if err := encodeLine(&buf, &x.Runs[i]); err != nil {
			return nil, fmt.Errorf("encoding run %s: %w", x.Runs[i].Key(), err)
		}
	}
	buf.WriteString("\n]")
	if len(x.Problems) > 0 {
		buf.WriteString(",\n\"problems\": [")
		for i := range x.Problems {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n")
			if err := encodeLine(&buf, &x.Problems[i]); err != nil {
				return nil, fmt.Errorf("encoding problem %s: %w", x.Problems[i].Path, err)
			}
		}
		buf.WriteString("\n]")
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

func encodeLine(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the encoder's newline
	return nil
}

// compare orders entries by start time, then plan, then run id.
func compare(a, b Entry) int {
	if c := a.StartTime.Compare(b.StartTime); c != 0 {
		return c
	}
	if c := strings.Compare(a.Plan, b.Plan); c != 0 {
		return c
	}
	return strings.Compare(a.RunID, b.RunID)
}

// Upsert adds e, replacing the entry of the same plan and run id, and
// clears any problem recorded at e's path.
func (x *Index) Upsert(e Entry) {
	x.Remove(e.Key())
	x.Problems = slices.DeleteFunc(x.Problems, func(p Problem) bool { return p.Path == e.Path })
	i, _ := slices.BinarySearchFunc(x.Runs, e, compare)
	x.Runs = slices.Insert(x.Runs, i, e)
}

// Remove drops the entries with the given keys (<plan>/<run-id>) and the
// problems recorded at those paths.
func (x *Index) Remove(keys ...string) {
	if len(keys) == 0 {
		return
	}
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[k] = true
	}
	x.Runs = slices.DeleteFunc(x.Runs, func(e Entry) bool { return drop[e.Key()] })
	x.Problems = slices.DeleteFunc(x.Problems, func(p Problem) bool { return drop[p.Path] })
}

// AddProblem records a report set that could not be read, once per path.
func (x *Index) AddProblem(p Problem) {
	for i := range x.Problems {
		if x.Problems[i].Path == p.Path {
			x.Problems[i] = p
			return
		}
	}
	x.Problems = append(x.Problems, p)
	slices.SortFunc(x.Problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
}

// Query selects entries. The zero Query selects every run.
type Query struct {
	// Plan keeps the runs of one plan; empty keeps every plan.
	Plan string
	// Before keeps the runs that started strictly before it; zero keeps
	// every run.
	Before time.Time
	// Last keeps only the newest Last runs of the selection; zero keeps
	// them all.
	Last int
}

// Select returns the entries q selects, oldest first. The slice is a copy;
// the entries share their fault slices with the index.
func (x *Index) Select(q Query) []Entry {
	runs := x.Runs
	if !q.Before.IsZero() {
		n, _ := slices.BinarySearchFunc(runs, q.Before, func(e Entry, t time.Time) int { return e.StartTime.Compare(t) })
		runs = runs[:n]
	}
	var out []Entry
	if q.Plan == "" {
		out = slices.Clone(runs)
	} else {
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Plan == q.Plan {
				out = append(out, runs[i])
				if q.Last > 0 && len(out) == q.Last {
					break
				}
			}
		}
		slices.Reverse(out)
	}
	if q.Last > 0 && len(out) > q.Last {
		out = out[len(out)-q.Last:]
	}
	if out == nil {
		out = []Entry{}
	}
	return out
}

// Find looks a run up by its run id, or by <plan>/<run-id>. A run id that
// two plans share (set with --run-id) is ambiguous and must be given with
// its plan.
func (x *Index) Find(name string) (Entry, error) {
	var found []Entry
	for _, e := range x.Runs {
		if e.RunID == name || e.Key() == name {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return Entry{}, fmt.Errorf("run %s: %w", name, ErrNotFound)
	case 1:
		return found[0], nil
	}
	keys := make([]string, len(found))
	for i, e := range found {
		keys[i] = e.Key()
	}
	return Entry{}, fmt.Errorf("run id %s is ambiguous: name one of %s", name, strings.Join(keys, ", "))
}

// Plans lists the plans that have runs, sorted.
func (x *Index) Plans() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range x.Runs {
		if !seen[e.Plan] {
			seen[e.Plan] = true
			out = append(out, e.Plan)
		}
	}
	slices.Sort(out)
	return out
}
