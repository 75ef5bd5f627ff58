package tune

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
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

	alsMinFactors, alsMaxFactors = 8, 256
	alsMinReg, alsMaxReg         = 0.01, 1000
	alsMinAlpha, alsMaxAlpha     = 0.1, 100
	// alsBracket configurations start each successive halving bracket;
	// a third survive each rung.
	alsBracket = 9
)

// alsRungs are the sweep counts at which a bracket's configurations are
// compared; the survivor of the last rung is also evaluated after every
// alsFineStep sweeps from alsFineFrom on, which chooses its iterations.
var alsRungs = []int{2, 6, 18}

const alsFineFrom, alsFineStep = 8, 2

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

// alsTrial is one ALS configuration in a bracket.
type alsTrial struct {
	opts  train.ALSOptions
	state *train.ALSState
	ndcg  float64
}

// searchALS first evaluates the caller's settings, then runs successive
// halving brackets of random configurations until the budget ends.
func (r *run) searchALS(ctx context.Context, o *train.Options) (best ModelResult) {
	rng := rand.New(rand.NewPCG(r.opts.Seed, 0x616c73))
	best = ModelResult{Model: eval.ModelALS}
	// evaluate scores t's current state and keeps it if it is the best.
	evaluate := func(t *alsTrial) bool {
		f := t.state.Factors()
		ndcg, recall, err := r.score(ctx, eval.ALSScorer(f, r.fold.Train.Items))
		if err != nil {
			return false
		}
		t.ndcg = ndcg
		if consider(&best, ndcg, recall) {
			o.ALS = t.opts
			o.ALS.Iterations = t.state.Sweeps()
		}
		return true
	}
	// advance sweeps t to n, evaluating on the way when fine is set; false
	// means the run must stop.
	advance := func(t *alsTrial, n int, fine bool) bool {
		if t.state == nil {
			s, err := train.NewALS(r.fold.Train, t.opts)
			if err != nil {
				return false
			}
			t.state = s
			best.Trials++
		}
		for t.state.Sweeps() < n {
			if r.expired(ctx) || t.state.Sweep(ctx, 1) != nil {
				return false
			}
			s := t.state.Sweeps()
			if fine && s >= alsFineFrom && s < n && (s-alsFineFrom)%alsFineStep == 0 && !evaluate(t) {
				return false
			}
		}
		return !r.expired(ctx) && evaluate(t)
	}
	defer func() { best.Params = paramsWith(*o, "als.") }()
	if r.expired(ctx) || !advance(&alsTrial{opts: o.ALS}, o.ALS.Iterations, false) {
		return best
	}
	base := o.ALS
	for b := 0; r.opts.MaxALSBrackets == 0 || b < r.opts.MaxALSBrackets; b++ {
		alive := make([]*alsTrial, alsBracket)
		for i := range alive {
			c := base
			c.Factors = max(alsMinFactors, int(math.Round(logUniform(rng, alsMinFactors, alsMaxFactors)/8))*8)
			c.Regularization = round3(logUniform(rng, alsMinReg, alsMaxReg))
			c.Alpha = round3(logUniform(rng, alsMinAlpha, alsMaxAlpha))
			alive[i] = &alsTrial{opts: c}
		}
		for rung, n := range alsRungs {
			for _, t := range alive {
				if !advance(t, n, rung == len(alsRungs)-1) {
					return best
				}
			}
			slices.SortStableFunc(alive, func(a, b *alsTrial) int { return cmp.Compare(b.ndcg, a.ndcg) })
			keep := max(1, len(alive)/3)
			for _, t := range alive[keep:] {
				t.state = nil // release the eliminated fits' factors
			}
			alive = alive[:keep]
		}
	}
	return best
}
