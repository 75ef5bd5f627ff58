package tune

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// The ALS search space: regularisation and alpha are sampled log-uniformly
// by the global phase; factors grow by doubling up to alsMaxFactors.
const (
	alsMinReg, alsMaxReg     = 0.01, 1000
	alsMinAlpha, alsMaxAlpha = 0.1, 100
	alsMaxFactors            = 256
	// alsBracket configurations start each successive halving bracket;
	// a third survive each rung.
	alsBracket = 9
)

// alsRungs are the sweep counts at which a bracket's configurations are
// compared. A fit that reaches the last rung is also evaluated after every
// alsFineStep sweeps from alsFineFrom on, which chooses its iterations.
var alsRungs = []int{2, 6, 18}

const (
	alsFineFrom, alsFineStep = 10, 4
	// alsEarly is the rung at which a local or growth trial is abandoned
	// when it scores below the best settings at the same sweep count.
	alsEarly = 6
)

// Shares of the ALS time after which the global phase ends and from which
// the local phase grows the factors even when it has not stalled.
const alsGlobalShare, alsGrowShare = 0.25, 0.4

// alsStall local trials without an improvement mean the local search has
// stalled at the current factors.
const alsStall = 4

// The local phase perturbs regularisation and alpha of the best settings by
// log-normal factors of standard deviation step (natural-log units),
// adapted by the one-fifth success rule: ×alsStepGrow after an improvement,
// ×alsStepShrink after a failure, so the step holds when one trial in five
// improves. alsStepInit ≈ ln 2 first proposes about twice or half each
// value.
const (
	alsStepInit   = 0.7
	alsStepMin    = 0.05
	alsStepMax    = 1.5
	alsStepGrow   = 1.49 // exp(0.4)
	alsStepShrink = 0.905
)

// alsTrial is one ALS configuration being fitted.
type alsTrial struct {
	opts  train.ALSOptions
	state *train.ALSState
	// ndcg is the latest validation NDCG; early the one at alsEarly sweeps
	// (0 when not evaluated there).
	ndcg, early float64
}

// alsSearch is the state of the ALS search of one run.
type alsSearch struct {
	*run
	o    *train.Options
	best ModelResult
	// bestEarly is the best settings' NDCG at alsEarly sweeps, 0 when
	// unknown (no trial is abandoned then).
	bestEarly  float64
	rng        *rand.Rand
	maxFactors int
}

// searchALS searches the ALS settings in three phases, each keeping the
// best validation NDCG so far in o.ALS:
//
//  1. the caller's settings;
//  2. global: successive halving brackets of random regularisation and
//     alpha at the caller's factors, until alsGlobalShare of the ALS time;
//  3. local, until the budget ends: each trial perturbs the best
//     regularisation and alpha, or doubles the best factors once the
//     perturbations have stalled (alsStall trials without improvement) or
//     alsGrowShare of the ALS time has passed, and the best settings
//     changed since the last doubling. Whether more factors pay off depends
//     on the data, so the validation fold decides; the costly large fits
//     come last, after the cheap trials at the caller's size have found the
//     regularisation, which decides whether more factors overfit.
//
// Local trials are abandoned after alsEarly sweeps when they score below
// the best settings at that point. Options.MaxALSBrackets and
// MaxALSLocalTrials bound the phases for tests.
func (r *run) searchALS(ctx context.Context, o *train.Options) ModelResult {
	s := &alsSearch{
		run: r, o: o, best: ModelResult{Model: eval.ModelALS},
		rng: rand.New(rand.NewPCG(r.opts.Seed, 0x616c73)),
		// A rank above the smaller side of the matrix adds nothing.
		maxFactors: max(o.ALS.Factors, min(alsMaxFactors, r.fold.Train.Users, r.fold.Train.Items)),
	}
	s.search(ctx)
	s.best.Params = paramsWith(*o, "als.")
	return s.best
}

// search runs the phases of searchALS.
func (s *alsSearch) search(ctx context.Context) {
	logger := log.FromContext(ctx)
	if s.expired(ctx) || !s.advance(ctx, &alsTrial{opts: s.o.ALS}, s.o.ALS.Iterations, false) {
		return
	}
	base := s.o.ALS
	clk := s.opts.Clock
	start := clk.Now()
	at := func(share float64) time.Time { return start.Add(time.Duration(share * float64(s.deadline.Sub(start)))) }
	for b := 0; b < 1 || (clk.Now().Before(at(alsGlobalShare)) && (s.opts.MaxALSBrackets == 0 || b < s.opts.MaxALSBrackets)); b++ {
		if !s.bracket(ctx, base) {
			return
		}
	}
	logger.Debug("als global phase done", "fits", s.best.Trials, "ndcg", s.best.NDCG, "params", paramsWith(*s.o, "als."))
	s.local(ctx, at(alsGrowShare))
	logger.Debug("als local phase done", "fits", s.best.Trials, "ndcg", s.best.NDCG, "params", paramsWith(*s.o, "als."))
}

// randomConfig draws regularisation and alpha from the global search space,
// keeping base's other settings.
func (s *alsSearch) randomConfig(base train.ALSOptions) train.ALSOptions {
	c := base
	c.Regularization = round3(logUniform(s.rng, alsMinReg, alsMaxReg))
	c.Alpha = round3(logUniform(s.rng, alsMinAlpha, alsMaxAlpha))
	return c
}

// perturb multiplies regularisation and alpha of c by independent
// log-normal factors of standard deviation step, within the search space.
func (s *alsSearch) perturb(c train.ALSOptions, step float64) train.ALSOptions {
	scale := func(v, lo, hi float64) float64 {
		return min(hi, max(lo, v*math.Exp(step*s.rng.NormFloat64())))
	}
	c.Regularization = round3(scale(c.Regularization, alsMinReg, alsMaxReg))
	c.Alpha = round3(scale(c.Alpha, alsMinAlpha, alsMaxAlpha))
	return c
}

// bracket runs one successive halving bracket of random configurations
// drawn around base; false means the run must stop.
func (s *alsSearch) bracket(ctx context.Context, base train.ALSOptions) bool {
	alive := make([]*alsTrial, alsBracket)
	for i := range alive {
		alive[i] = &alsTrial{opts: s.randomConfig(base)}
	}
	for rung, n := range alsRungs {
		for _, t := range alive {
			if !s.advance(ctx, t, n, rung == len(alsRungs)-1) {
				return false
			}
		}
		slices.SortStableFunc(alive, func(a, b *alsTrial) int { return cmp.Compare(b.ndcg, a.ndcg) })
		keep := max(1, len(alive)/3)
		for _, t := range alive[keep:] {
			t.state = nil // release the eliminated fits' factors
		}
		alive = alive[:keep]
	}
	return true
}

// local runs local trials until the budget ends or MaxALSLocalTrials:
// perturbations of the best regularisation and alpha with a step adapted
// by the one-fifth rule, and doublings of the best factors (see
// searchALS).
func (s *alsSearch) local(ctx context.Context, growFrom time.Time) {
	step := alsStepInit
	failures := 0
	grownFrom := math.NaN() // the best NDCG when the factors were last doubled
	for n := 0; s.opts.MaxALSLocalTrials == 0 || n < s.opts.MaxALSLocalTrials; n++ {
		before := s.best.NDCG
		grow := s.o.ALS.Factors < s.maxFactors && before != grownFrom &&
			(failures >= alsStall || !s.opts.Clock.Now().Before(growFrom))
		c := s.o.ALS
		if grow {
			grownFrom = before
			c.Factors = min(s.maxFactors, 2*c.Factors)
		} else {
			c = s.perturb(c, step)
		}
		if !s.try(ctx, c) {
			return
		}
		switch {
		case s.best.NDCG > before:
			failures = 0
			if !grow {
				step = min(alsStepMax, step*alsStepGrow)
			}
		case !grow:
			failures++
			step = max(alsStepMin, step*alsStepShrink)
		}
	}
}

// try fits c to the last rung, evaluating on the way, unless it scores
// below the best settings at alsEarly sweeps; false means the run must
// stop.
func (s *alsSearch) try(ctx context.Context, c train.ALSOptions) bool {
	t := &alsTrial{opts: c}
	if !s.advance(ctx, t, alsEarly, false) {
		return false
	}
	if t.early < s.bestEarly {
		return true
	}
	return s.advance(ctx, t, alsRungs[len(alsRungs)-1], true)
}

// evaluate scores t's current state and keeps it if it is the best.
func (s *alsSearch) evaluate(ctx context.Context, t *alsTrial) bool {
	ndcg, recall, err := s.score(ctx, eval.ALSScorer(t.state.Factors(), s.fold.Train.Items))
	if err != nil {
		return false
	}
	t.ndcg = ndcg
	if t.state.Sweeps() == alsEarly {
		t.early = ndcg
	}
	if consider(&s.best, ndcg, recall) {
		s.o.ALS = t.opts
		s.o.ALS.Iterations = t.state.Sweeps()
		s.bestEarly = t.early
	}
	return true
}

// advance sweeps t to n, evaluating on the way when fine is set; false
// means the run must stop.
func (s *alsSearch) advance(ctx context.Context, t *alsTrial, n int, fine bool) bool {
	if t.state == nil {
		st, err := train.NewALS(s.fold.Train, t.opts)
		if err != nil {
			return false
		}
		t.state = st
		s.best.Trials++
	}
	for t.state.Sweeps() < n {
		if s.expired(ctx) || t.state.Sweep(ctx, 1) != nil {
			return false
		}
		sw := t.state.Sweeps()
		if fine && sw >= alsFineFrom && sw < n && (sw-alsFineFrom)%alsFineStep == 0 && !s.evaluate(ctx, t) {
			return false
		}
	}
	return !s.expired(ctx) && s.evaluate(ctx, t)
}
