package tune

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Search spaces, sampled log-uniformly.
const (
	knnMinK, knnMaxK           = 10, 1000
	knnMinShrink, knnMaxShrink = 0.1, 1000
	maxKNNTrials               = 40

	easeMinLambda, easeMaxLambda = 3, 10_000
	easeMinItems                 = 200
	maxEASETrials                = 30
)

// logUniform draws from [lo, hi] uniformly on a log scale.
func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
}

// round3 keeps three significant digits, so recorded values read well.
func round3(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// paramsWith returns the params of o restricted to keys with prefix.
func paramsWith(o train.Options, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range o.Params() {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			out[k] = v
		}
	}
	return out
}

// consider records a trial's result in best when it is the first or better.
func consider(best *ModelResult, ndcg, recall float64) bool {
	if best.Tuned && ndcg <= best.NDCG {
		return false
	}
	best.NDCG, best.Recall, best.Tuned = ndcg, recall, true
	return true
}

// searchKNN is a random search over neighbours and shrink, starting with
// the caller's settings, until end or maxKNNTrials.
func (r *run) searchKNN(ctx context.Context, o *train.Options, end time.Time) ModelResult {
	rng := rand.New(rand.NewPCG(r.opts.Seed, 0x6b6e6e))
	best := ModelResult{Model: eval.ModelItemKNN}
	cand := o.KNN
	for trial := 0; trial < maxKNNTrials; trial++ {
		if r.expired(ctx) || (trial > 0 && r.until(ctx, end)) {
			break
		}
		if trial > 0 {
			cand.K = int(math.Round(logUniform(rng, knnMinK, knnMaxK)))
			cand.Shrink = round3(logUniform(rng, knnMinShrink, knnMaxShrink))
		}
		nb, err := train.ItemKNN(ctx, r.fold.Train, cand)
		if err != nil {
			continue // cancelled: expired says so next
		}
		ndcg, recall, err := r.score(ctx, eval.ListScorer(r.fold.Train, nb, r.pop))
		if err != nil {
			continue
		}
		best.Trials++
		if consider(&best, ndcg, recall) {
			o.KNN = cand
		}
	}
	best.Params = paramsWith(*o, "knn.")
	return best
}

// searchEASE is a random search over λ and the item cap, starting with the
// caller's settings, until end or maxEASETrials.
func (r *run) searchEASE(ctx context.Context, o *train.Options, end time.Time) ModelResult {
	rng := rand.New(rand.NewPCG(r.opts.Seed, 0x65617365))
	best := ModelResult{Model: eval.ModelEASE}
	cand := o.EASE
	maxItems := min(o.EASE.MaxItems, train.EASEShapeOf(r.fold.Train, o.EASE).Items)
	for trial := 0; trial < maxEASETrials; trial++ {
		if r.expired(ctx) || (trial > 0 && r.until(ctx, end)) {
			break
		}
		if trial > 0 {
			cand.Lambda = round3(logUniform(rng, easeMinLambda, easeMaxLambda))
			cand.MaxItems = maxItems
			if maxItems > easeMinItems {
				cand.MaxItems = int(math.Round(logUniform(rng, easeMinItems, float64(maxItems))))
			}
		}
		nb, err := train.EASE(ctx, r.fold.Train, cand)
		if err != nil {
			continue
		}
		ndcg, recall, err := r.score(ctx, eval.ListScorer(r.fold.Train, nb, r.pop))
		if err != nil {
			continue
		}
		best.Trials++
		if consider(&best, ndcg, recall) {
			o.EASE = cand
		}
	}
	best.Params = paramsWith(*o, "ease.")
	return best
}
