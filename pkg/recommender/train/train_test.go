package train

import (
	"context"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/model"
)

func TestNewMatrixAggregatesAndTransposes(t *testing.T) {
	ints := []data.Interaction{
		{User: 1, Item: 2, Weight: 1}, {User: 0, Item: 1, Weight: 2}, {User: 1, Item: 0, Weight: 1},
		{User: 1, Item: 2, Weight: 3}, {User: 2, Item: 1, Weight: 1},
	}
	m := NewMatrix(3, 3, ints, nil)
	require.Equal(t, 4, m.NNZ())
	items, vals := m.Row(1)
	require.Equal(t, []int32{0, 2}, items)
	require.Equal(t, []float32{1, 4}, vals)
	users, cvals := m.Col(1)
	require.Equal(t, []int32{0, 2}, users)
	require.Equal(t, []float32{2, 1}, cvals)

	filtered := NewMatrix(3, 3, ints, func(n int) bool { return ints[n].User != 1 })
	require.Equal(t, 2, filtered.NNZ())
}

func randomMatrix(users, items int, density float64, seed uint64) *Matrix {
	r := rand.New(rand.NewPCG(seed, 9))
	var ints []data.Interaction
	for u := range users {
		for i := range items {
			if r.Float64() < density {
				ints = append(ints, data.Interaction{User: int32(u), Item: int32(i), Weight: float32(1 + r.IntN(4))})
			}
		}
	}
	return NewMatrix(users, items, ints, nil)
}

func TestItemKNNMatchesBruteForceCosine(t *testing.T) {
	m := randomMatrix(60, 40, 0.15, 1)
	const shrink = 2
	nb, err := ItemKNN(context.Background(), m, KNNOptions{K: 5, Shrink: shrink, Workers: 2})
	require.NoError(t, err)
	dense := make([][]float64, m.Items)
	for i := range dense {
		dense[i] = make([]float64, m.Users)
		users, vals := m.Col(i)
		for j, u := range users {
			dense[i][u] = math.Log1p(float64(vals[j]))
		}
	}
	norm := func(v []float64) float64 { return math.Sqrt(dot(v, v)) }
	for i := range m.Items {
		type c struct {
			j int
			s float64
		}
		var all []c
		for j := range m.Items {
			d := dot(dense[i], dense[j])
			if j == i || d == 0 {
				continue
			}
			all = append(all, c{j, d / (norm(dense[i])*norm(dense[j]) + shrink)})
		}
		slices.SortStableFunc(all, func(a, b c) int {
			if a.s > b.s {
				return -1
			}
			if a.s < b.s {
				return 1
			}
			return 0
		})
		for r := range 5 {
			got := nb.Items[i*5+r]
			if r >= len(all) {
				require.Equal(t, int32(-1), got)
				continue
			}
			require.InDelta(t, all[r].s, float64(nb.Scores[i*5+r]), 1e-5, "item %d rank %d", i, r)
		}
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestALSRanksObservedItemsFirst(t *testing.T) {
	// Plant two user groups with disjoint item sets.
	var ints []data.Interaction
	for u := range 40 {
		for i := range 10 {
			if (u+i)%3 != 0 {
				ints = append(ints, data.Interaction{User: int32(u), Item: int32(i + 10*(u%2)), Weight: 1})
			}
		}
	}
	m := NewMatrix(40, 20, ints, nil)
	opts := ALSOptions{Factors: 4, Iterations: 8, Workers: 2}
	f, err := ALS(context.Background(), m, opts)
	require.NoError(t, err)
	for u := range 40 {
		own, other := 0.0, 0.0
		for i := range 20 {
			var s float64
			for k := range f.Rank {
				s += float64(f.Users[u*f.Rank+k] * f.Items[i*f.Rank+k])
			}
			if i/10 == u%2 {
				own += s
			} else {
				other += s
			}
		}
		require.Greater(t, own, other+1, "user %d", u)
	}
	again, err := ALS(context.Background(), m, opts)
	require.NoError(t, err)
	require.Equal(t, f, again, "same seed and workers give identical factors")
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"negative factors", Options{ALS: ALSOptions{Factors: -1}}, "factors must be in"},
		{"a negative shrink", Options{KNN: KNNOptions{Shrink: -1}}, "shrink must not be negative"},
		{"a negative blend weight", Options{Blend: model.Blend{Text: -1}}, "search blend weights must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, tt.opts.WithDefaults().Validate(), tt.want)
		})
	}
}

func TestBuildProducesAQueryableModel(t *testing.T) {
	ds, err := data.Generate(context.Background(), data.Config{Users: 400, Items: 300, Seed: 3})
	require.NoError(t, err)
	ds.Hash = "0123"
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 2, 8, 15, 0, 0, time.UTC))
	m, tm, err := Build(context.Background(), ds, Options{
		ALS: ALSOptions{Factors: 8, Iterations: 3}, Clock: clk,
		Metrics: map[string]float64{"als/ndcg@10": 0.5},
	})
	require.NoError(t, err)
	defer m.Close()
	md := m.Metadata()
	require.Regexp(t, regexp.MustCompile(`^20261202T081500Z-[0-9a-f]{8}$`), md.Version)
	require.Equal(t, "0123", md.DataHash)
	require.Equal(t, 0.5, md.Metrics["als/ndcg@10"])
	require.Equal(t, "8", md.Params["als.factors"])
	require.Equal(t, 300, md.Items)
	require.GreaterOrEqual(t, tm.Total, time.Duration(0))

	user := ds.Users[ds.Interactions[0].User]
	require.True(t, m.KnownUser(user))
	recs := m.Recommend(user, 10)
	require.Len(t, recs, 10)
	sim, err := m.Similar(ds.Items[ds.Interactions[0].Item].ID, 5)
	require.NoError(t, err)
	require.NotEmpty(t, sim)
	_, _, queries := m.Sample(5)
	require.Len(t, queries, 5)
	require.NotEmpty(t, m.Search(queries[0], user, 10))
}

func TestSampleQueriesFallsBackToTitles(t *testing.T) {
	ds := &data.Dataset{Items: []data.Item{{ID: "a", Title: "Dark Roast Coffee Beans", Category: "Coffee"}, {ID: "b", Title: "Green Tea"}}}
	got := SampleQueries(ds, []float32{2, 1}, 10)
	require.ElementsMatch(t, []string{"coffee", "coffee beans", "green tea"}, got)
}

func TestALSStateContinuesAFitExactly(t *testing.T) {
	m := randomMatrix(50, 40, 0.15, 3)
	opts := ALSOptions{Factors: 6, Iterations: 5, Workers: 2}
	want, err := ALS(context.Background(), m, opts)
	require.NoError(t, err)
	s, err := NewALS(m, opts)
	require.NoError(t, err)
	require.NoError(t, s.Sweep(context.Background(), 2))
	early := s.Factors()
	require.NotEqual(t, want, early)
	require.NoError(t, s.Sweep(context.Background(), 3))
	require.Equal(t, 5, s.Sweeps())
	require.Equal(t, want, s.Factors(), "2 + 3 sweeps equal a 5-iteration fit")
}
