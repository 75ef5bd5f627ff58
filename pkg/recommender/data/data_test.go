package data

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTaxonomyHasTwentyDepartmentsAndUniqueAisles(t *testing.T) {
	depts := parseTaxonomy()
	require.Len(t, depts, 20)
	seen := map[string]bool{}
	for _, d := range depts {
		require.NotEmpty(t, d.attributes, d.name)
		for _, a := range d.aisles {
			require.False(t, seen[a.name], "duplicate aisle %q", a.name)
			seen[a.name] = true
			require.GreaterOrEqual(t, len(a.nouns), 3, a.name)
		}
	}
	require.Len(t, seen, 130)
}

func generateFiles(t *testing.T, cfg Config) (string, *Dataset) {
	t.Helper()
	ds, err := Generate(context.Background(), cfg)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Write(context.Background(), dir, ds))
	return dir, ds
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{InteractionsFile, ItemsFile, QueriesFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		out[name] = b
	}
	return out
}

func TestGenerateIsDeterministic(t *testing.T) {
	base := Config{Users: 1500, Items: 600, Seed: 42}
	one, four := base, base
	one.Workers, four.Workers = 1, 4
	dirA, dsA := generateFiles(t, one)
	dirB, dsB := generateFiles(t, four)
	require.Equal(t, readAll(t, dirA), readAll(t, dirB), "same seed, different worker counts")
	require.Equal(t, dsA.Hash, dsB.Hash)

	other := base
	other.Seed = 43
	dirC, dsC := generateFiles(t, other)
	require.NotEqual(t, readAll(t, dirA)[InteractionsFile], readAll(t, dirC)[InteractionsFile])
	require.NotEqual(t, dsA.Hash, dsC.Hash)
}

func TestGeneratedDataMatchesCalibrationTargets(t *testing.T) {
	// 5k users and 2k items keep the default ratio of users, items and
	// interactions, so the statistics carry over to the default size.
	ds, err := Generate(context.Background(), Config{Users: 5000, Items: 2000, Seed: 1})
	require.NoError(t, err)
	st := Summarize(ds)
	checks := []struct {
		name     string
		got      float64
		min, max float64
	}{
		{"interactions per user about 20", float64(st.Interactions) / float64(st.Users), 17, 24},
		{"top 1% of items about 15% of interactions", st.Top1Share, 0.12, 0.20},
		{"top 10% of items about 60% of interactions", st.Top10Share, 0.52, 0.66},
		{"about a third of items with at most one interaction", st.AtMostOneShare, 0.27, 0.40},
		{"session mean about 17 events", st.SessionMean, 14, 20},
		{"session median about 6 events", st.SessionMedian, 5, 7},
		{"carts about 2.6% of views", st.CartPerView, 0.022, 0.030},
		{"purchases about 0.8% of views", st.PurchasePerView, 0.0065, 0.0095},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			require.GreaterOrEqual(t, c.got, c.min)
			require.LessOrEqual(t, c.got, c.max)
		})
	}
	t.Run("sessions start with search queries", func(t *testing.T) {
		require.Greater(t, st.Queries, len(ds.Sessions)/3)
	})
	t.Run("every item has a title and an aisle", func(t *testing.T) {
		for _, it := range ds.Items {
			require.NotEmpty(t, it.Title)
			require.NotEmpty(t, it.Category)
		}
	})
	t.Run("events are in time order", func(t *testing.T) {
		for n := 1; n < len(ds.Interactions); n++ {
			require.LessOrEqual(t, ds.Interactions[n-1].Time, ds.Interactions[n].Time)
		}
	})
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir, want := generateFiles(t, Config{Users: 300, Items: 200, Seed: 5})
	got, err := Read(context.Background(), dir)
	require.NoError(t, err)
	require.Equal(t, want.Hash, got.Hash)
	require.True(t, got.HasTime)
	require.Equal(t, len(want.Interactions), len(got.Interactions))
	require.Equal(t, want.Items, got.Items)
	for n, in := range want.Interactions {
		g := got.Interactions[n]
		require.Equal(t, want.Users[in.User], got.Users[g.User])
		require.Equal(t, want.Items[in.Item].ID, got.Items[g.Item].ID)
		require.Equal(t, in.Weight, g.Weight)
		require.Equal(t, in.Time, g.Time)
		require.Equal(t, in.Event, g.Event)
		require.Equal(t, want.Sessions[in.Session], got.Sessions[g.Session])
	}
	require.Len(t, got.Queries, len(want.Queries))
	require.Equal(t, want.Queries[0].Text, got.Queries[0].Text)
}

func TestReadBringYourOwnData(t *testing.T) {
	ds, err := Read(context.Background(), "testdata/byo")
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob", "carol"}, ds.Users)
	require.Equal(t, []Item{
		{ID: "espresso", Title: "Espresso Machine", Category: "Coffee Makers"},
		{ID: "grinder", Title: "Burr Grinder", Category: "Coffee Makers"},
		{ID: "beans, dark roast", Title: `Dark Roast "Bold" Beans`, Category: "Coffee"},
	}, ds.Items)
	require.Len(t, ds.Interactions, 5)
	require.True(t, ds.HasTime)
	require.Equal(t, int64(1759305600), ds.Interactions[2].Time)
	require.Equal(t, float32(3), ds.Interactions[1].Weight)
	require.Equal(t, int32(-1), ds.Interactions[0].Session)
	require.Len(t, ds.Hash, 64)
}

func TestReadMinimalInteractions(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, InteractionsFile, "item,user\nx,a\ny,a\nx,b\n")
	ds, err := Read(context.Background(), dir)
	require.NoError(t, err)
	require.False(t, ds.HasTime)
	require.Equal(t, []Item{{ID: "x"}, {ID: "y"}}, ds.Items)
	require.Equal(t, float32(1), ds.Interactions[0].Weight)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func TestReadReportsFileLineAndColumn(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a missing interactions file", map[string]string{}, "opening interactions"},
		{"an empty interactions file", map[string]string{InteractionsFile: ""}, "interactions.csv:1: empty file"},
		{"an unknown column", map[string]string{InteractionsFile: "user,item,rating\na,b,5\n"},
			`interactions.csv:1: column 3: unknown column "rating"`},
		{"a missing item column", map[string]string{InteractionsFile: "user,weight\na,1\n"},
			`interactions.csv:1: missing required column "item"`},
		{"a non-numeric weight", map[string]string{InteractionsFile: "user,item,weight\na,b,1\na,c,heavy\n"},
			`interactions.csv:3: column 3 (weight): invalid weight "heavy"`},
		{"a negative weight", map[string]string{InteractionsFile: "user,item,weight\na,b,-1\n"},
			`interactions.csv:2: column 3 (weight): invalid weight "-1"`},
		{"a bad timestamp", map[string]string{InteractionsFile: "user,item,timestamp\na,b,yesterday\n"},
			`interactions.csv:2: column 3 (timestamp): invalid timestamp "yesterday"`},
		{"an unknown event", map[string]string{InteractionsFile: "user,item,event\na,b,wishlist\n"},
			`interactions.csv:2: column 3 (event): unknown event "wishlist"`},
		{"an empty user", map[string]string{InteractionsFile: "item,user\nb,\n"},
			`interactions.csv:2: column 2 (user): empty user id`},
		{"a row with too many fields", map[string]string{InteractionsFile: "user,item\na,b\na,b,c\n"},
			`interactions.csv:3: column 1: wrong number of fields`},
		{"a broken quote", map[string]string{InteractionsFile: "user,item\na,\"b\n"},
			`interactions.csv:2: column`},
		{"a header without rows", map[string]string{InteractionsFile: "user,item\n"}, "interactions.csv: no interactions"},
		{"a duplicate item in items.csv", map[string]string{InteractionsFile: "user,item\na,b\n", ItemsFile: "item,title\nb,B\nb,B2\n"},
			`items.csv:3: column 1 (item): duplicate item "b"`},
		{"a bad queries timestamp", map[string]string{InteractionsFile: "user,item\na,b\n", QueriesFile: "session,user,timestamp,query\ns,a,noon,tea\n"},
			`queries.csv:2: column 3 (timestamp)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				write(t, dir, name, content)
			}
			_, err := Read(context.Background(), dir)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	_, err := Generate(context.Background(), Config{Users: -1, Items: 5})
	require.ErrorContains(t, err, "users must be at least 1")
	require.ErrorContains(t, err, "items must be at least 10")
}
