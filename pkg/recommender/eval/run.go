package eval

import (
	"context"
	"errors"
	"time"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// runSplit fits every model on the fold's training part and scores it.
func runSplit(ctx context.Context, f *Fold, topts train.Options, opts Options) (*SplitReport, error) {
	logger := log.FromContext(ctx)
	clk := opts.Clock
	m := f.Train
	sr := &SplitReport{K: opts.K, Users: len(f.Users), TrainPairs: m.NNZ()}
	for _, t := range f.Test {
		sr.TestPairs += len(t)
	}
	if len(f.Users) == 0 {
		return nil, errors.New("no users to evaluate: too little data")
	}
	type fitted struct {
		name  string
		score Scorer
		took  time.Duration
	}
	var models []fitted
	t0 := clk.Now()
	pop := train.Popularity(m)
	models = append(models, fitted{ModelPopularity, PopularityScorer(pop), clk.Since(t0)})

	t0 = clk.Now()
	nb, err := train.ItemKNN(ctx, m, topts.KNN)
	if err != nil {
		return nil, err
	}
	models = append(models, fitted{ModelItemKNN, ListScorer(m, nb, pop), clk.Since(t0)})

	t0 = clk.Now()
	fa, err := train.ALS(ctx, m, topts.ALS)
	if err != nil {
		return nil, err
	}
	models = append(models, fitted{ModelALS, ALSScorer(fa, m.Items), clk.Since(t0)})

	if topts.EASE.Enabled(train.EASEShapeOf(m, topts.EASE)) {
		t0 = clk.Now()
		eb, err := train.EASE(ctx, m, topts.EASE)
		if err != nil {
			return nil, err
		}
		models = append(models, fitted{ModelEASE, ListScorer(m, eb, pop), clk.Since(t0)})
	}
	for _, md := range models {
		ndcg, recall, err := score(ctx, f, md.score, opts)
		if err != nil {
			return nil, err
		}
		sr.Results = append(sr.Results, ModelResult{Model: md.name, NDCG: ndcg, Recall: recall, Train: md.took})
		logger.Info("evaluated model", "model", md.name, "users", len(f.Users), "ndcg", ndcg, "recall", recall)
	}
	return sr, nil
}
