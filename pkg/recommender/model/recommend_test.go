package model

import (
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// withEASE adds an EASE part of 3 weights per item to p.
func withEASE(p Parts) Parts {
	n := len(p.Items)
	p.EASEK = 3
	p.EASEItems = make([]int32, n*3)
	p.EASEScores = make([]float32, n*3)
	for i := range n {
		for j := range 3 {
			p.EASEItems[i*3+j] = int32((i*5 + j*3 + 2) % n)
			p.EASEScores[i*3+j] = 0.5 - 0.2*float32(j)
		}
	}
	p.EASEItems[0] = -1 // item 0 has no weights
	p.EASEItems[1], p.EASEItems[2] = -1, -1
	return p
}

// bruteLists ranks by summed list weights plus the popularity tie-breaker.
func bruteLists(p Parts, u int, k int, lk int, items []int32, weights []float32) []string {
	var maxPop float32 = 1
	for _, v := range p.Popularity {
		maxPop = max(maxPop, v)
	}
	s := make([]float32, len(p.Items))
	for i, v := range p.Popularity {
		s[i] = 1e-6 * v / maxPop
	}
	for _, i := range p.Seen[u] {
		for j := range lk {
			if n := items[int(i)*lk+j]; n >= 0 {
				s[n] += weights[int(i)*lk+j]
			}
		}
	}
	var idx []int
	for i := range s {
		if !slices.Contains(p.Seen[u], int32(i)) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	var out []string
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, p.Items[i].ID)
	}
	return out
}

func TestRecommendByEachRecommender(t *testing.T) {
	p := withEASE(testParts(t, 40, 30, 4))
	dir := filepath.Join(t.TempDir(), "m")
	m, err := New(p)
	require.NoError(t, err)
	require.Equal(t, RecommenderALS, m.Recommender(), "als by default")
	require.Equal(t, []string{"als", "itemknn", "ease", "popularity"}, m.Recommenders())
	require.NoError(t, m.Save(dir))
	tests := []struct {
		name string
		rec  string
		want func(u int) []string
	}{
		{"als", RecommenderALS, func(u int) []string { return items(bruteForce(p, u, 7)) }},
		{"item-kNN", RecommenderItemKNN, func(u int) []string { return bruteLists(p, u, 7, p.NeighborK, p.NeighborItems, p.NeighborScores) }},
		{"EASE", RecommenderEASE, func(u int) []string { return bruteLists(p, u, 7, p.EASEK, p.EASEItems, p.EASEScores) }},
		{"popularity", RecommenderPopularity, func(int) []string { return items(m.Popular("", 7)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loaded, err := LoadWith(dir, LoadOptions{Recommender: tt.rec})
			require.NoError(t, err)
			require.Equal(t, tt.rec, loaded.Recommender())
			for u := range 40 {
				require.Equal(t, tt.want(u), items(loaded.Recommend(p.Users[u], 7)), "user %d", u)
			}
		})
	}
}

func TestTheArtifactRecordsItsRecommender(t *testing.T) {
	p := withEASE(testParts(t, 10, 12, 3))
	p.Recommender = RecommenderEASE
	m, err := New(p)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, m.Save(dir))
	auto, err := LoadWith(dir, LoadOptions{Recommender: RecommenderAuto})
	require.NoError(t, err)
	require.Equal(t, RecommenderEASE, auto.Recommender())

	noEASE := testParts(t, 10, 12, 3)
	noEASE.Recommender = RecommenderEASE
	_, err = New(noEASE)
	require.ErrorContains(t, err, `recommender "ease" is not in the model`)
	m, err = New(testParts(t, 10, 12, 3))
	require.NoError(t, err)
	dir = filepath.Join(t.TempDir(), "m")
	require.NoError(t, m.Save(dir))
	_, err = LoadWith(dir, LoadOptions{Recommender: RecommenderEASE})
	require.ErrorContains(t, err, `recommender "ease" is not in the model`)
	_, err = LoadWith(dir, LoadOptions{Recommender: "magic"})
	require.ErrorContains(t, err, `recommender "magic" is not in the model`)
}
