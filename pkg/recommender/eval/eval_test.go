package eval

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

func TestModelQualityOrdering(t *testing.T) {
	// A 5k-user, 2k-item dataset keeps the default data's proportions while
	// running in seconds under -race.
	ds, err := data.Generate(context.Background(), data.Config{Users: 5000, Items: 2000, Seed: 1})
	require.NoError(t, err)
	rep, err := Evaluate(context.Background(), ds, train.Options{}, Options{Splits: []Split{SplitUser}, MaxUsers: 3000})
	require.NoError(t, err)
	pop, ok := rep.Result(SplitUser, ModelPopularity)
	require.True(t, ok)
	knn, _ := rep.Result(SplitUser, ModelItemKNN)
	als, _ := rep.Result(SplitUser, ModelALS)
	ease, ok := rep.Result(SplitUser, ModelEASE)
	require.True(t, ok, "EASE is trained by default on a 2k-item catalogue")
	t.Logf("NDCG@10 popularity %.4f, item-kNN %.4f, ALS %.4f, EASE %.4f", pop.NDCG, knn.NDCG, als.NDCG, ease.NDCG)
	require.Greater(t, ease.NDCG, knn.NDCG, "EASE must beat item-kNN")
	require.Greater(t, als.NDCG, knn.NDCG, "ALS must beat item-kNN")
	require.Greater(t, knn.NDCG, pop.NDCG, "item-kNN must beat popularity")
	require.Greater(t, als.Recall, pop.Recall)
	require.Contains(t, rep.Metrics(), "als/ndcg@10")
	require.Contains(t, rep.Metrics(), "popularity/recall@10")
}

func TestTimeSplitRunsOnTimestampedData(t *testing.T) {
	ds, err := data.Generate(context.Background(), data.Config{Users: 800, Items: 300, Seed: 2})
	require.NoError(t, err)
	topts := train.Options{ALS: train.ALSOptions{Factors: 8, Iterations: 3}}
	rep, err := Evaluate(context.Background(), ds, topts, Options{})
	require.NoError(t, err)
	require.Len(t, rep.Splits, 2)
	require.Equal(t, SplitTime, rep.Splits[1].Split)
	require.Positive(t, rep.Splits[1].Users)
	require.Contains(t, rep.Metrics(), "time/als/ndcg@10")
	for _, s := range rep.Splits {
		for _, r := range s.Results {
			require.False(t, math.IsNaN(r.NDCG))
			require.GreaterOrEqual(t, r.NDCG, 0.0)
			require.LessOrEqual(t, r.NDCG, 1.0)
			require.LessOrEqual(t, r.Recall, 1.0)
		}
	}
}

func TestEvaluateRejectsBadOptions(t *testing.T) {
	ds := &data.Dataset{Users: []string{"a"}, Items: []data.Item{{ID: "x"}},
		Interactions: []data.Interaction{{User: 0, Item: 0, Weight: 1, Session: -1}}}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"a time split without timestamps", Options{Splits: []Split{SplitTime}}, "time split needs a timestamp"},
		{"an unknown split", Options{Splits: []Split{"random"}}, `unknown split "random"`},
		{"a holdout of one", Options{Holdout: 1}, "holdout must be in (0,1)"},
		{"too few users to evaluate", Options{}, "no users to evaluate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate(context.Background(), ds, train.Options{}, tt.opts)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMetricsOfAKnownRanking(t *testing.T) {
	// Five items; the scorer ranks them 4,3,2,1,0. User 0 trained on item 4
	// (excluded), held out items 2 and 0: ranks 2 and 4 of the remaining
	// list 3,2,1,0.
	m := train.NewMatrix(1, 5, []data.Interaction{{User: 0, Item: 4, Weight: 1}}, nil)
	sp := &Fold{Train: m, Users: []int32{0}, Test: [][]int32{{0, 2}}}
	fn := func(_ int32, s []float32) {
		for i := range s {
			s[i] = float32(i)
		}
	}
	ndcg, recall, err := score(context.Background(), sp, fn, Options{K: 3, Workers: 2})
	require.NoError(t, err)
	// Top 3: 3,2,1 → one hit at rank 2.
	wantDCG := 1 / math.Log2(3)
	wantIDCG := 1 + 1/math.Log2(3)
	require.InDelta(t, wantDCG/wantIDCG, ndcg, 1e-12)
	require.InDelta(t, 0.5, recall, 1e-12)
}

func TestTopKExcludesAndBreaksTies(t *testing.T) {
	scores := []float32{1, 5, 5, 3, 5, 0}
	require.Equal(t, []int32{1, 4, 3}, TopK(scores, []int32{2}, 3, nil))
	require.Equal(t, []int32{1, 2, 4, 3, 0, 5}, TopK(scores, nil, 10, nil))
}
