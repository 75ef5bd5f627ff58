package movielens

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

func TestReadConvertsRatingsAndMovies(t *testing.T) {
	ds, err := Read(context.Background(), "testdata/small", Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2", "3"}, ds.Users)
	require.Equal(t, []data.Item{
		{ID: "1", Title: "Toy Story (1995)", Category: "Adventure"},
		{ID: "3", Title: "Grumpier Old Men (1995)", Category: "Comedy"},
		{ID: "50", Title: "Usual Suspects, The (1995)", Category: "Crime"},
		{ID: "7", Title: "Unrated (2001)"},
		{ID: "99"}, // rated but not in movies.csv
	}, ds.Items)
	require.True(t, ds.HasTime)
	require.Len(t, ds.Interactions, 6)
	require.Equal(t, data.Interaction{User: 1, Item: 2, Weight: 0.5, Time: 1445715340, Session: -1}, ds.Interactions[4])
}

func TestReadKeepsRatingsAboveTheMinimum(t *testing.T) {
	ds, err := Read(context.Background(), "testdata/small", Options{MinRating: 3})
	require.NoError(t, err)
	require.Len(t, ds.Interactions, 4)
	require.Equal(t, []string{"1", "3"}, ds.Users, "user 2 has no rating of 3 or more")
}

func TestReadRoundTripsThroughADataDirectory(t *testing.T) {
	ds, err := Read(context.Background(), "testdata/small", Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, data.Write(context.Background(), dir, ds))
	back, err := data.Read(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, ds.Hash, back.Hash)
	require.Equal(t, ds.Users, back.Users)
	require.Equal(t, ds.Items, back.Items)
	require.Equal(t, ds.Interactions, back.Interactions)
}

func TestReadReportsFileLineAndField(t *testing.T) {
	const movies = "movieId,title,genres\n1,A,Drama\n"
	tests := []struct {
		name    string
		ratings string
		movies  string
		want    string
	}{
		{"a missing ratings file", "", movies, "opening ratings.csv"},
		{"an empty ratings file", "-", movies, "ratings.csv:1: empty file"},
		{"a wrong header", "user,item,rating,timestamp\n", movies, `ratings.csv:1: column 1: header "user", want "userId"`},
		{"a rating that is not a number", "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,great,1\n", movies,
			`ratings.csv:3: column 3 (rating): invalid rating "great"`},
		{"a zero rating", "userId,movieId,rating,timestamp\n1,1,0,1\n", movies, `ratings.csv:2: column 3 (rating): invalid rating "0"`},
		{"a bad timestamp", "userId,movieId,rating,timestamp\n1,1,4,yesterday\n", movies,
			`ratings.csv:2: column 4 (timestamp): invalid timestamp "yesterday"`},
		{"an empty user", "userId,movieId,rating,timestamp\n,1,4,1\n", movies, "ratings.csv:2: column 1 (userId): empty user id"},
		{"a short row", "userId,movieId,rating,timestamp\n1,1,4\n", movies, "ratings.csv:2: 3 fields, want 4 (userId,movieId,rating,timestamp)"},
		{"no ratings", "userId,movieId,rating,timestamp\n", movies, "ratings.csv: no ratings"},
		{"a duplicate movie", "userId,movieId,rating,timestamp\n1,1,4,1\n", movies + "1,B,Comedy\n",
			`movies.csv:3: column 1 (movieId): duplicate movie "1"`},
		{"a movies file with extra columns", "userId,movieId,rating,timestamp\n1,1,4,1\n", "movieId,title,genres,year\n",
			"movies.csv:1: 4 columns, want 3 (the header must be movieId,title,genres)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			switch tt.ratings {
			case "":
			case "-":
				require.NoError(t, os.WriteFile(filepath.Join(dir, RatingsFile), nil, 0o644))
			default:
				require.NoError(t, os.WriteFile(filepath.Join(dir, RatingsFile), []byte(tt.ratings), 0o644))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, MoviesFile), []byte(tt.movies), 0o644))
			_, err := Read(context.Background(), dir, Options{})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestReadRejectsANegativeMinimum(t *testing.T) {
	_, err := Read(context.Background(), "testdata/small", Options{MinRating: -1})
	require.ErrorContains(t, err, "min rating must not be negative")
}
