package movielens

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

// File names of a MovieLens directory.
const (
	// RatingsFile is required: userId,movieId,rating,timestamp.
	RatingsFile = "ratings.csv"
	// MoviesFile is optional: movieId,title,genres.
	MoviesFile = "movies.csv"
)

// noGenres is how MovieLens spells an empty genre list.
const noGenres = "(no genres listed)"

// Options configure Read.
type Options struct {
	// MinRating drops ratings below it. Zero keeps every rating.
	MinRating float64
}

// Read converts the MovieLens directory dir into a Dataset: one interaction
// per rating with the rating as weight and the Unix timestamp as time, and
// one item per movie (movies.csv order first, then movies that are only
// rated) titled by movies.csv with its first genre as category. The
// dataset's Hash is left empty; data.Write sets it.
func Read(ctx context.Context, dir string, opts Options) (*data.Dataset, error) {
	if opts.MinRating < 0 || math.IsNaN(opts.MinRating) {
		return nil, fmt.Errorf("min rating must not be negative, got %g", opts.MinRating)
	}
	ds := &data.Dataset{HasTime: true}
	items := map[string]int32{}
	addItem := func(id string) int32 {
		if i, ok := items[id]; ok {
			return i
		}
		i := int32(len(ds.Items))
		id = strings.Clone(id) // records are reused by the reader
		items[id] = i
		ds.Items = append(ds.Items, data.Item{ID: id})
		return i
	}
	if err := readFile(dir, MoviesFile, true, []string{"movieId", "title", "genres"}, func(r *reader) error {
		return readMovies(ctx, r, ds, addItem)
	}); err != nil {
		return nil, err
	}
	users := map[string]int32{}
	if err := readFile(dir, RatingsFile, false, []string{"userId", "movieId", "rating", "timestamp"}, func(r *reader) error {
		return readRatings(ctx, r, ds, users, addItem, opts)
	}); err != nil {
		return nil, err
	}
	if len(ds.Interactions) == 0 {
		return nil, fmt.Errorf("%s: no ratings at or above %g", RatingsFile, opts.MinRating)
	}
	return ds, nil
}

// reader reads one CSV file whose header must be exactly want.
type reader struct {
	name string
	r    *csv.Reader
	want []string
}

func readFile(dir, name string, optional bool, want []string, fill func(*reader) error) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("opening %s: %w", name, err)
	}
	defer func() { _ = f.Close() }() // read-only
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s:1: empty file, want the header %s", name, strings.Join(want, ","))
	}
	if err != nil {
		return parseError(name, err)
	}
	if len(header) != len(want) {
		return fmt.Errorf("%s:1: %d columns, want %d (the header must be %s)", name, len(header), len(want), strings.Join(want, ","))
	}
	for i, col := range header {
		if col = strings.TrimPrefix(col, "\ufeff"); col != want[i] {
			return fmt.Errorf("%s:1: column %d: header %q, want %q (the header must be %s)", name, i+1, col, want[i], strings.Join(want, ","))
		}
	}
	return fill(&reader{name: name, r: r, want: want})
}

// parseError turns an encoding/csv error into file:line form.
func parseError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: column %d: %w", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// errAt formats an error for column col (1-based) of the current record.
func (r *reader) errAt(col int, field string, err error) error {
	line, _ := r.r.FieldPos(0)
	return fmt.Errorf("%s:%d: column %d (%s): %w", r.name, line, col, field, err)
}

// records calls fn for every record after the header.
func (r *reader) records(ctx context.Context, fn func(rec []string) error) error {
	for n := 0; ; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w", r.name, ctx.Err())
		}
		rec, err := r.r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return parseError(r.name, err)
		}
		if len(rec) != len(r.want) {
			line, _ := r.r.FieldPos(0)
			return fmt.Errorf("%s:%d: %d fields, want %d (%s)", r.name, line, len(rec), len(r.want), strings.Join(r.want, ","))
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

func readMovies(ctx context.Context, r *reader, ds *data.Dataset, addItem func(string) int32) error {
	seen := map[string]bool{}
	return r.records(ctx, func(rec []string) error {
		id := rec[0]
		if id == "" {
			return r.errAt(1, "movieId", errors.New("empty movie id"))
		}
		if seen[id] {
			return r.errAt(1, "movieId", fmt.Errorf("duplicate movie %q", id))
		}
		seen[id] = true
		i := addItem(id)
		genre, _, _ := strings.Cut(rec[2], "|")
		if genre == noGenres {
			genre = ""
		}
		ds.Items[i].Title = strings.Clone(rec[1])
		ds.Items[i].Category = strings.Clone(genre)
		return nil
	})
}

func readRatings(ctx context.Context, r *reader, ds *data.Dataset, users map[string]int32, addItem func(string) int32, opts Options) error {
	return r.records(ctx, func(rec []string) error {
		if rec[0] == "" {
			return r.errAt(1, "userId", errors.New("empty user id"))
		}
		if rec[1] == "" {
			return r.errAt(2, "movieId", errors.New("empty movie id"))
		}
		rating, err := strconv.ParseFloat(rec[2], 64)
		if err != nil || rating <= 0 || math.IsInf(rating, 0) || math.IsNaN(rating) {
			return r.errAt(3, "rating", fmt.Errorf("invalid rating %q (want a positive number)", rec[2]))
		}
		ts, err := strconv.ParseInt(rec[3], 10, 64)
		if err != nil || ts < 0 {
			return r.errAt(4, "timestamp", fmt.Errorf("invalid timestamp %q (want Unix seconds)", rec[3]))
		}
		if rating < opts.MinRating {
			return nil
		}
		u, ok := users[rec[0]]
		if !ok {
			u = int32(len(ds.Users))
			id := strings.Clone(rec[0])
			users[id] = u
			ds.Users = append(ds.Users, id)
		}
		ds.Interactions = append(ds.Interactions, data.Interaction{
			User: u, Item: addItem(rec[1]), Weight: float32(rating), Time: ts, Session: -1,
		})
		return nil
	})
}
