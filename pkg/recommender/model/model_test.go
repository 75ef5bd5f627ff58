package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testParts builds a random but well-formed model of the given size.
func testParts(tb testing.TB, users, items, rank int) Parts {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	cats := []string{"Coffee", "Tea", "Cheese", "Bread", "Pasta"}
	nouns := []string{"espresso beans", "green tea", "cheddar", "sourdough loaf", "penne", "dark roast", "herbal tea"}
	p := Parts{
		Metadata: Metadata{Version: "20261202T081500Z-abcdef12", CreatedAt: time.Date(2026, 12, 2, 8, 15, 0, 0, time.UTC),
			DataHash: "feed", Metrics: map[string]float64{"als/ndcg@10": 0.2}, Params: map[string]string{"als.factors": fmt.Sprint(rank)}},
		Rank:      rank,
		NeighborK: 5,
		Blend:     DefaultBlend(),
	}
	for u := range users {
		p.Users = append(p.Users, fmt.Sprintf("u%d", u))
	}
	for i := range items {
		p.Items = append(p.Items, Item{ID: fmt.Sprintf("i%d", i), Title: fmt.Sprintf("Brand%d %s", i%7, nouns[i%len(nouns)]), Category: cats[i%len(cats)]})
	}
	p.UserFactors = make([]float32, users*rank)
	p.ItemFactors = make([]float32, items*rank)
	for i := range p.UserFactors {
		p.UserFactors[i] = float32(r.NormFloat64())
	}
	for i := range p.ItemFactors {
		p.ItemFactors[i] = float32(r.NormFloat64())
	}
	// A few exact ties exercise the tie-break.
	if items > 3 {
		copy(p.ItemFactors[rank:2*rank], p.ItemFactors[:rank])
	}
	for range users {
		var s []int32
		for range r.IntN(min(items, 20)) {
			s = append(s, int32(r.IntN(items)))
		}
		slices.Sort(s)
		p.Seen = append(p.Seen, slices.Compact(s))
	}
	p.NeighborItems = make([]int32, items*p.NeighborK)
	p.NeighborScores = make([]float32, items*p.NeighborK)
	for i := range items {
		for j := range p.NeighborK {
			p.NeighborItems[i*p.NeighborK+j] = int32((i + j + 1) % items)
			p.NeighborScores[i*p.NeighborK+j] = 1 / float32(j+1)
		}
	}
	p.NeighborItems[len(p.NeighborItems)-1] = -1
	p.Popularity = make([]float32, items)
	for i := range p.Popularity {
		p.Popularity[i] = float32(r.IntN(100))
	}
	p.Queries = []string{"tea", "espresso beans", "cheddar"}
	return p
}

func newTestModel(tb testing.TB, users, items, rank int) *Model {
	tb.Helper()
	m, err := New(testParts(tb, users, items, rank))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// bruteForce scores every unseen item with a plain float32 loop and sorts
// the whole list (stable, so ties keep the lower index first).
func bruteForce(p Parts, u, k int) []Result {
	type c struct {
		i int
		s float32
	}
	var all []c
	for i := range p.Items {
		if _, seen := slices.BinarySearch(p.Seen[u], int32(i)); seen {
			continue
		}
		var s float32
		for j := range p.Rank {
			s += p.UserFactors[u*p.Rank+j] * p.ItemFactors[i*p.Rank+j]
		}
		all = append(all, c{i, s})
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
	var out []Result
	for _, x := range all[:min(k, len(all))] {
		out = append(out, Result{Item: p.Items[x.i].ID, Score: float64(x.s)})
	}
	return out
}

func TestRecommendMatchesBruteForce(t *testing.T) {
	p := testParts(t, 20, 3000, 64)
	m, err := New(p)
	require.NoError(t, err)
	defer m.Close()
	for u := range p.Users {
		full := bruteForce(p, u, len(p.Items))
		for _, k := range []int{1, 10, 100, 5000} {
			got := m.Recommend(p.Users[u], k)
			want := full[:min(k, len(full))]
			require.Len(t, got, len(want), "user %d k %d", u, k)
			for j := range want {
				require.Equal(t, want[j].Item, got[j].Item, "user %d k %d rank %d", u, k, j)
				require.Equal(t, want[j].Score, got[j].Score, "user %d k %d rank %d", u, k, j)
			}
			gotSet := map[string]bool{}
			for _, r := range got {
				gotSet[r.Item] = true
				idx := m.itemIdx[r.Item]
				_, seen := slices.BinarySearch(p.Seen[u], idx)
				require.False(t, seen, "recommended a seen item")
			}
			require.Len(t, gotSet, len(got), "duplicates in results")
		}
	}
}

func TestQueries(t *testing.T) {
	m := newTestModel(t, 20, 200, 8)
	t.Run("an unknown user gets the global popularity ranking", func(t *testing.T) {
		require.Equal(t, m.Popular("", 7), m.Recommend("nobody", 7))
		require.False(t, m.KnownUser("nobody"))
		require.True(t, m.KnownUser("u3"))
	})
	t.Run("popularity is sorted and per category stays in its category", func(t *testing.T) {
		all := m.Popular("", 50)
		require.Len(t, all, 50)
		require.True(t, slices.IsSortedFunc(all, func(a, b Result) int { return int(b.Score - a.Score) }))
		for _, r := range m.Popular("Tea", 10) {
			require.Equal(t, "Tea", r.Category)
		}
		require.Empty(t, m.Popular("No Such Aisle", 10))
	})
	t.Run("the popularity snapshot carries titles and categories", func(t *testing.T) {
		snap := m.PopularitySnapshot(5)
		require.Len(t, snap, 5)
		require.NotEmpty(t, snap[0].Title)
		require.NotEmpty(t, snap[0].Category)
	})
	t.Run("similar returns stored neighbours and rejects unknown items", func(t *testing.T) {
		got, err := m.Similar("i0", 3)
		require.NoError(t, err)
		require.Equal(t, []string{"i1", "i2", "i3"}, items(got))
		last, err := m.Similar("i199", 10)
		require.NoError(t, err)
		require.Len(t, last, 4, "padding (-1) ends the list")
		_, err = m.Similar("nope", 3)
		require.ErrorIs(t, err, ErrUnknownItem)
	})
	t.Run("search finds items by title words and category", func(t *testing.T) {
		got := m.Search("green tea", "", 5)
		require.NotEmpty(t, got)
		require.Contains(t, got[0].Title+" "+got[0].Category, "Tea")
		require.NotEmpty(t, m.Search("Cheese", "u1", 5))
		require.Empty(t, m.Search("", "u1", 5))
		require.Empty(t, m.Search("zzzqqq", "u1", 5))
	})
	t.Run("search is personalised for known users", func(t *testing.T) {
		anon := m.Search("tea", "", 20)
		var differs bool
		for u := range 20 {
			if !slices.Equal(items(anon), items(m.Search("tea", fmt.Sprintf("u%d", u), 20))) {
				differs = true
			}
		}
		require.True(t, differs)
	})
	t.Run("samples are deterministic and drawn from the model", func(t *testing.T) {
		u1, i1, q1 := m.Sample(10)
		u2, i2, q2 := m.Sample(10)
		require.Equal(t, u1, u2)
		require.Equal(t, i1, i2)
		require.Equal(t, q1, q2)
		require.Len(t, u1, 10)
		require.Len(t, i1, 10)
		require.Len(t, q1, 10)
		for _, u := range u1 {
			require.True(t, m.KnownUser(u))
		}
	})
	t.Run("non-positive k yields nothing", func(t *testing.T) {
		require.Empty(t, m.Recommend("u1", 0))
		require.Empty(t, m.Search("tea", "u1", 0))
		require.Empty(t, m.Popular("", -1))
	})
}

func items(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Item
	}
	return out
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := newTestModel(t, 30, 500, 16)
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, m.Save(dir))
	got, err := Load(dir)
	require.NoError(t, err)
	defer got.Close()
	require.Equal(t, m.Metadata(), got.Metadata())
	for u := range 30 {
		user := fmt.Sprintf("u%d", u)
		require.Equal(t, m.Recommend(user, 10), got.Recommend(user, 10))
		require.Equal(t, m.Search("tea", user, 10), got.Search("tea", user, 10))
	}
	s1, err := m.Similar("i5", 5)
	require.NoError(t, err)
	s2, err := got.Similar("i5", 5)
	require.NoError(t, err)
	require.Equal(t, s1, s2)
	require.Equal(t, m.Popular("Bread", 5), got.Popular("Bread", 5))
	a, b, c := m.Sample(5)
	x, y, z := got.Sample(5)
	require.Equal(t, [][]string{a, b, c}, [][]string{x, y, z})

	md, err := ReadMetadata(dir)
	require.NoError(t, err)
	require.Equal(t, m.Metadata(), md)

	// No temporary directories are left behind, and a second Save to the
	// same directory refuses to overwrite it.
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Error(t, m.Save(dir))
}

func TestLoadRefusesDamagedArtifacts(t *testing.T) {
	m := newTestModel(t, 10, 100, 8)
	src := filepath.Join(t.TempDir(), "model")
	require.NoError(t, m.Save(src))
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		corrupt bool
	}{
		{"a flipped byte in the factors fails its checksum", func(t *testing.T, dir string) {
			t.Helper()
			flip(t, filepath.Join(dir, itemFactorsFile), 40)
		}, true},
		{"a truncated file fails its checksum", func(t *testing.T, dir string) {
			t.Helper()
			p := filepath.Join(dir, userFactorsFile)
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, fi.Size()/2))
		}, true},
		{"a truncated search index fails its checksum", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Truncate(filepath.Join(dir, searchFile), 100))
		}, true},
		{"a missing file is refused", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Remove(filepath.Join(dir, neighborItemsFile)))
		}, true},
		{"a missing manifest is refused", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
		}, true},
		{"an unlisted extra file is refused", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.bin"), []byte("x"), 0o644))
		}, true},
		{"a malformed manifest is refused", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte("nonsense\n"), 0o644))
		}, true},
		{"a missing directory is an I/O error, not corruption", func(t *testing.T, dir string) {
			t.Helper()
			require.NoError(t, os.RemoveAll(dir))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy")
			copyDir(t, src, dir)
			tt.damage(t, dir)
			_, err := Load(dir)
			require.Error(t, err)
			require.Equal(t, tt.corrupt, errors.Is(err, ErrCorrupt), "error: %v", err)
		})
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
}
