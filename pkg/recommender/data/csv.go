package data

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File names inside a data directory.
const (
	// InteractionsFile is required: user,item[,weight][,timestamp][,event][,session].
	InteractionsFile = "interactions.csv"
	// ItemsFile is optional: item[,title][,category].
	ItemsFile = "items.csv"
	// QueriesFile is optional: session,user,timestamp,query.
	QueriesFile = "queries.csv"
	// GeneratorFile marks a directory written by the synthetic generator; it
	// records the generator's configuration and is not part of the data
	// hash. `recommender train --tune auto` does not tune such data.
	GeneratorFile = "generator.json"
)

// Column names.
var (
	interactionColumns = []string{"user", "item", "weight", "timestamp", "event", "session"}
	itemColumns        = []string{"item", "title", "category"}
	queryColumns       = []string{"session", "user", "timestamp", "query"}
)

// Write stores ds as CSV files in dir (created if needed) and sets ds.Hash
// to the hash Read reports for the same files.
func Write(ctx context.Context, dir string, ds *Dataset) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	sums := map[string][]byte{}
	write := func(name string, fill func(w *bufio.Writer) error) error {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("creating %s: %w", path, err)
		}
		h := sha256.New()
		bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
		err = fill(bw)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		sums[name] = h.Sum(nil)
		return nil
	}
	err := write(InteractionsFile, func(w *bufio.Writer) error {
		if _, err := w.WriteString(strings.Join(interactionColumns, ",") + "\n"); err != nil {
			return err
		}
		var buf []byte
		for n, in := range ds.Interactions {
			if n%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			buf = buf[:0]
			buf = appendField(buf, ds.Users[in.User])
			buf = append(buf, ',')
			buf = appendField(buf, ds.Items[in.Item].ID)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, float64(in.Weight), 'g', -1, 32)
			buf = append(buf, ',')
			if in.Time != 0 || ds.HasTime {
				buf = TimeOf(in.Time).AppendFormat(buf, time.RFC3339)
			}
			buf = append(buf, ',')
			buf = append(buf, in.Event.String()...)
			buf = append(buf, ',')
			if in.Session >= 0 {
				buf = appendField(buf, ds.Sessions[in.Session])
			}
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = write(ItemsFile, func(w *bufio.Writer) error {
		if _, err := w.WriteString(strings.Join(itemColumns, ",") + "\n"); err != nil {
			return err
		}
		var buf []byte
		for _, it := range ds.Items {
			buf = appendField(buf[:0], it.ID)
			buf = append(buf, ',')
			buf = appendField(buf, it.Title)
			buf = append(buf, ',')
			buf = appendField(buf, it.Category)
			buf = append(buf, '\n')
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(ds.Queries) > 0 {
		err = write(QueriesFile, func(w *bufio.Writer) error {
			if _, err := w.WriteString(strings.Join(queryColumns, ",") + "\n"); err != nil {
				return err
			}
			var buf []byte
			for _, q := range ds.Queries {
				buf = appendField(buf[:0], ds.Sessions[q.Session])
				buf = append(buf, ',')
				buf = appendField(buf, ds.Users[q.User])
				buf = append(buf, ',')
				buf = TimeOf(q.Time).AppendFormat(buf, time.RFC3339)
				buf = append(buf, ',')
				buf = appendField(buf, q.Text)
				buf = append(buf, '\n')
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	ds.Hash = combineHashes(sums)
	return nil
}

// appendField appends s, quoted if CSV requires it.
func appendField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && (s == "" || (s[0] != ' ' && s[0] != '\t')) {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

// combineHashes hashes the per-file digests in a fixed order, so the data
// hash covers exactly the files that were read.
func combineHashes(sums map[string][]byte) string {
	h := sha256.New()
	for _, name := range []string{InteractionsFile, ItemsFile, QueriesFile} {
		if s, ok := sums[name]; ok {
			fmt.Fprintf(h, "%s  %s\n", hex.EncodeToString(s), name)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// csvFile reads one CSV file with a header, tracking its hash.
type csvFile struct {
	name string
	r    *csv.Reader
	h    hash.Hash
	cols map[string]int // column name -> index
}

func openCSV(path string, f io.Reader, known, required []string) (*csvFile, error) {
	name := filepath.Base(path)
	h := sha256.New()
	r := csv.NewReader(bufio.NewReaderSize(io.TeeReader(f, h), 1<<20))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:1: empty file, want a header with columns %s", name, strings.Join(known, ","))
		}
		return nil, csvError(name, err)
	}
	c := &csvFile{name: name, r: r, h: h, cols: map[string]int{}}
	for i, col := range header {
		col = strings.TrimSpace(strings.TrimPrefix(col, "\ufeff"))
		if !contains(known, col) {
			return nil, fmt.Errorf("%s:1: column %d: unknown column %q (want %s)", name, i+1, col, strings.Join(known, ","))
		}
		if _, dup := c.cols[col]; dup {
			return nil, fmt.Errorf("%s:1: column %d: duplicate column %q", name, i+1, col)
		}
		c.cols[col] = i
	}
	for _, col := range required {
		if _, ok := c.cols[col]; !ok {
			return nil, fmt.Errorf("%s:1: missing required column %q (header must name %s)", name, col, strings.Join(required, ","))
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// csvError turns an encoding/csv error into file:line form.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: column %d: %w", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// field returns the value of column col in rec, or "" if the file lacks it.
func (c *csvFile) field(rec []string, col string) (string, int, bool) {
	i, ok := c.cols[col]
	if !ok {
		return "", 0, false
	}
	return rec[i], i + 1, true
}

// errAt formats an error for the current record.
func (c *csvFile) errAt(col int, colName string, err error) error {
	line, _ := c.r.FieldPos(0)
	return fmt.Errorf("%s:%d: column %d (%s): %w", c.name, line, col, colName, err)
}

// parseTime accepts RFC 3339 or integer Unix seconds.
func parseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("invalid timestamp %q (want RFC 3339 or Unix seconds)", s)
	}
	return t.Unix(), nil
}

// interner maps identifiers to dense indices in first-seen order.
type interner struct {
	idx  map[string]int32
	vals []string
}

func newInterner() *interner { return &interner{idx: map[string]int32{}} }

func (in *interner) get(s string) int32 {
	if i, ok := in.idx[s]; ok {
		return i
	}
	i := int32(len(in.vals))
	s = strings.Clone(s) // records are reused by the reader
	in.idx[s] = i
	in.vals = append(in.vals, s)
	return i
}

// Read loads a data directory: interactions.csv (required), items.csv and
// queries.csv (optional). Errors name the file, line and column.
func Read(ctx context.Context, dir string) (*Dataset, error) {
	ds := &Dataset{}
	users, items, sessions := newInterner(), newInterner(), newInterner()
	sums := map[string][]byte{}
	// Items first so catalogue order and metadata are known.
	var meta []Item
	err := readCSV(dir, ItemsFile, true, itemColumns, []string{"item"}, sums, func(c *csvFile) error {
		var err error
		meta, err = readItems(c, items)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = readCSV(dir, InteractionsFile, false, interactionColumns, []string{"user", "item"}, sums, func(c *csvFile) error {
		return readInteractions(ctx, c, ds, users, items, sessions)
	})
	if err != nil {
		return nil, err
	}
	err = readCSV(dir, QueriesFile, true, queryColumns, queryColumns, sums, func(c *csvFile) error {
		return readQueries(c, ds, users, sessions)
	})
	if err != nil {
		return nil, err
	}
	ds.Users, ds.Sessions = users.vals, sessions.vals
	ds.Items = make([]Item, len(items.vals))
	for i, id := range items.vals {
		if i < len(meta) {
			ds.Items[i] = meta[i]
		} else {
			ds.Items[i] = Item{ID: id}
		}
	}
	ds.Hash = combineHashes(sums)
	return ds, nil
}

// readCSV opens dir/name, checks its header and hands it to fill. A missing
// optional file is skipped. The file's sha256 is recorded in sums.
func readCSV(dir, name string, optional bool, known, required []string, sums map[string][]byte, fill func(*csvFile) error) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("opening %s: %w", name, err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to flush
	c, err := openCSV(name, f, known, required)
	if err != nil {
		return err
	}
	if err := fill(c); err != nil {
		return err
	}
	// Hash any bytes the CSV reader has not consumed (there are none after
	// io.EOF, but be exact).
	if _, err := io.Copy(c.h, f); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	sums[name] = c.h.Sum(nil)
	return nil
}

func readItems(c *csvFile, items *interner) ([]Item, error) {
	var out []Item
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvError(c.name, err)
		}
		id, col, _ := c.field(rec, "item")
		if id == "" {
			return nil, c.errAt(col, "item", errors.New("empty item id"))
		}
		if _, dup := items.idx[id]; dup {
			return nil, c.errAt(col, "item", fmt.Errorf("duplicate item %q", id))
		}
		it := Item{ID: items.vals[items.get(id)]}
		if v, _, ok := c.field(rec, "title"); ok {
			it.Title = strings.Clone(v)
		}
		if v, _, ok := c.field(rec, "category"); ok {
			it.Category = strings.Clone(v)
		}
		out = append(out, it)
	}
}

func readInteractions(ctx context.Context, c *csvFile, ds *Dataset, users, items, sessions *interner) error {
	_, hasTime := c.cols["timestamp"]
	ds.HasTime = hasTime
	for n := 0; ; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w", c.name, ctx.Err())
		}
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvError(c.name, err)
		}
		in := Interaction{Session: -1}
		u, col, _ := c.field(rec, "user")
		if u == "" {
			return c.errAt(col, "user", errors.New("empty user id"))
		}
		it, col, _ := c.field(rec, "item")
		if it == "" {
			return c.errAt(col, "item", errors.New("empty item id"))
		}
		in.User, in.Item = users.get(u), items.get(it)
		if v, col, ok := c.field(rec, "event"); ok {
			if in.Event, err = ParseEvent(v); err != nil {
				return c.errAt(col, "event", err)
			}
		}
		in.Weight = in.Event.DefaultWeight()
		if v, col, ok := c.field(rec, "weight"); ok && v != "" {
			w, err := strconv.ParseFloat(v, 32)
			if err != nil || w <= 0 || math.IsInf(w, 0) || math.IsNaN(w) {
				return c.errAt(col, "weight", fmt.Errorf("invalid weight %q (want a positive number)", v))
			}
			in.Weight = float32(w)
		}
		if v, col, ok := c.field(rec, "timestamp"); ok {
			if v == "" {
				ds.HasTime = false
			} else if in.Time, err = parseTime(v); err != nil {
				return c.errAt(col, "timestamp", err)
			}
		}
		if v, _, ok := c.field(rec, "session"); ok && v != "" {
			in.Session = sessions.get(v)
		}
		ds.Interactions = append(ds.Interactions, in)
	}
	if len(ds.Interactions) == 0 {
		return fmt.Errorf("%s: no interactions", c.name)
	}
	return nil
}

func readQueries(c *csvFile, ds *Dataset, users, sessions *interner) error {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvError(c.name, err)
		}
		var q Query
		s, _, _ := c.field(rec, "session")
		u, col, _ := c.field(rec, "user")
		if u == "" {
			return c.errAt(col, "user", errors.New("empty user id"))
		}
		q.Session, q.User = sessions.get(s), users.get(u)
		ts, col, _ := c.field(rec, "timestamp")
		if q.Time, err = parseTime(ts); err != nil {
			return c.errAt(col, "timestamp", err)
		}
		text, _, _ := c.field(rec, "query")
		q.Text = strings.Clone(text)
		ds.Queries = append(ds.Queries, q)
	}
}
