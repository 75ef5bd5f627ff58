package tune

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// DefaultBudget is the default time budget: about what a 100k-interaction
// dataset needs on two cores.
const DefaultBudget = 60 * time.Second

// The item-kNN search ends at knnShare percent of the budget, the EASE
// search at easeShare percent; ALS, with the most parameters and the most
// costly fits, gets the rest: at least three quarters, more when the others
// finish early.
const knnShare, easeShare = 10, 25

// Stop says why a tuning run ended.
type Stop string

// Reasons a run stops.
const (
	// StopCompleted means every search ran to its end.
	StopCompleted Stop = "completed"
	// StopBudget means the budget ran out.
	StopBudget Stop = "budget"
	// StopInterrupted means the context was cancelled.
	StopInterrupted Stop = "interrupted"
)

// Options configure Run. Zero values mean the documented defaults.
type Options struct {
	// Budget bounds the run's wall-clock time. Default DefaultBudget.
	Budget time.Duration
	// Seed drives the validation holdout and the random search. Default 1.
	Seed uint64
	// MaxUsers caps the validation users. Default 10,000.
	MaxUsers int
	// MaxALSBrackets ends the global phase of the ALS search after this
	// many successive halving brackets even with time left. Zero means no
	// limit (the phase ends after a quarter of the ALS time).
	MaxALSBrackets int
	// MaxALSLocalTrials ends the local phase of the ALS search after this
	// many fits even with budget left. Zero means no limit (the phase runs
	// until the budget ends).
	MaxALSLocalTrials int
	// Workers bounds parallelism. Default GOMAXPROCS.
	Workers int
	// Clock measures the budget. Default the real clock.
	Clock clock.PassiveClock
}

func (o Options) withDefaults() Options {
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.MaxUsers == 0 {
		o.MaxUsers = 10_000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// ModelResult is the best validation result of one model.
type ModelResult struct {
	// Model is popularity, itemknn, als or ease (eval's model names).
	Model string `json:"model"`
	// NDCG and Recall are the validation NDCG@10 and Recall@10 of the
	// chosen settings.
	NDCG   float64 `json:"ndcg"`
	Recall float64 `json:"recall"`
	// Trials is how many settings were evaluated (ALS: fits, each possibly
	// evaluated after several sweep counts).
	Trials int `json:"trials"`
	// Tuned is false when the budget or an interruption left no trial.
	Tuned bool `json:"tuned"`
	// Params are the chosen settings, as in train.Options.Params.
	Params map[string]string `json:"params"`
}

// Result is the outcome of Run.
type Result struct {
	// Options are the caller's options with the chosen values.
	Options train.Options `json:"-"`
	// Models lists the searched models in search order, after popularity.
	Models []ModelResult `json:"models"`
	// Users, TrainPairs and ValidationPairs describe the validation fold.
	Users           int `json:"users"`
	TrainPairs      int `json:"trainPairs"`
	ValidationPairs int `json:"validationPairs"`
	// Elapsed is the run's duration; Budget its budget (nanoseconds in
	// JSON, like eval's fit times).
	Elapsed time.Duration `json:"elapsed"`
	Budget  time.Duration `json:"budget"`
	// Stop says why the run ended.
	Stop Stop `json:"stop"`
}

// Metrics returns the validation results as metadata metrics:
// "validation/<model>/ndcg@10" and "validation/<model>/recall@10".
func (r *Result) Metrics() map[string]float64 {
	out := map[string]float64{}
	for _, m := range r.Models {
		if m.Tuned {
			out["validation/"+m.Model+"/ndcg@10"] = m.NDCG
			out["validation/"+m.Model+"/recall@10"] = m.Recall
		}
	}
	return out
}

// Params describes the run for the model metadata.
func (r *Result) Params() map[string]string {
	p := map[string]string{
		"tune.method":  "random search (item-kNN, EASE); successive halving, local search and growing factors (ALS)",
		"tune.budget":  r.Budget.String(),
		"tune.elapsed": r.Elapsed.Round(time.Millisecond).String(),
		"tune.stop":    string(r.Stop),
	}
	for _, m := range r.Models {
		if m.Model != eval.ModelPopularity {
			p["tune."+m.Model+".trials"] = strconv.Itoa(m.Trials)
		}
	}
	return p
}

// Best returns the model with the highest validation NDCG among those with a
// trial, and false when there is none.
func (r *Result) Best() (ModelResult, bool) {
	var best ModelResult
	found := false
	for _, m := range r.Models {
		if m.Tuned && (!found || m.NDCG > best.NDCG) {
			best, found = m, true
		}
	}
	return best, found
}

// run is the state of one tuning run.
type run struct {
	opts     Options
	fold     *eval.Fold
	pop      []float32
	start    time.Time
	deadline time.Time
	stop     Stop
	evalOpts eval.Options
}

// expired reports whether the run must stop, recording why.
func (r *run) expired(ctx context.Context) bool {
	if r.stop == StopInterrupted || ctx.Err() != nil {
		r.stop = StopInterrupted
		return true
	}
	if !r.opts.Clock.Now().Before(r.deadline) {
		r.stop = StopBudget
		return true
	}
	return false
}

// until reports whether a phase ending at end must stop.
func (r *run) until(ctx context.Context, end time.Time) bool {
	return r.expired(ctx) || !r.opts.Clock.Now().Before(end)
}

// score evaluates fn on the validation fold.
func (r *run) score(ctx context.Context, fn eval.Scorer) (float64, float64, error) {
	return eval.Score(ctx, r.fold, fn, r.evalOpts)
}

// validationFold splits the training matrix m into the fold tuning fits
// and scores on, with a seed of its own.
func validationFold(m *train.Matrix, opts Options) *eval.Fold {
	return eval.HoldOut(m, eval.Options{Seed: opts.Seed + 0x74756e65, MaxUsers: opts.MaxUsers})
}

// Run tunes base on the training matrix m (the training part of the user
// split). It returns an error only for invalid input; a budget that runs
// out or a cancelled context end the search with the best settings so far.
func Run(ctx context.Context, m *train.Matrix, base train.Options, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if opts.Budget < 0 {
		return nil, fmt.Errorf("tuning budget must not be negative, got %s", opts.Budget)
	}
	base = base.WithDefaults()
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("invalid training options: %w", err)
	}
	logger := log.FromContext(ctx)
	clk := opts.Clock
	r := &run{
		opts:     opts,
		start:    clk.Now(),
		stop:     StopCompleted,
		evalOpts: eval.Options{K: 10, Workers: opts.Workers},
	}
	r.deadline = r.start.Add(opts.Budget)
	r.fold = validationFold(m, opts)
	if len(r.fold.Users) == 0 {
		return nil, errors.New("no users to validate on: too little data")
	}
	r.pop = train.Popularity(r.fold.Train)
	res := &Result{Options: base, Budget: opts.Budget, Users: len(r.fold.Users), TrainPairs: r.fold.Train.NNZ()}
	for _, t := range r.fold.Test {
		res.ValidationPairs += len(t)
	}
	ndcg, recall, err := r.score(ctx, eval.PopularityScorer(r.pop))
	if err == nil {
		res.Models = append(res.Models, ModelResult{Model: eval.ModelPopularity, NDCG: ndcg, Recall: recall, Trials: 1, Tuned: true, Params: map[string]string{}})
	}
	b := opts.Budget
	res.Models = append(res.Models, r.searchKNN(ctx, &res.Options, r.start.Add(b*knnShare/100)))
	logger.Debug("tuning phase done", "model", eval.ModelItemKNN, "elapsed", clk.Since(r.start))
	if base.EASE.Enabled(train.EASEShapeOf(r.fold.Train, base.EASE)) {
		res.Models = append(res.Models, r.searchEASE(ctx, &res.Options, r.start.Add(b*easeShare/100)))
		logger.Debug("tuning phase done", "model", eval.ModelEASE, "elapsed", clk.Since(r.start))
	}
	res.Models = append(res.Models, r.searchALS(ctx, &res.Options))
	res.Elapsed = clk.Since(r.start)
	res.Stop = r.stop
	for _, mr := range res.Models {
		logger.Info("tuned model", "model", mr.Model, "ndcg", mr.NDCG, "trials", mr.Trials, "tuned", mr.Tuned)
	}
	return res, nil
}
