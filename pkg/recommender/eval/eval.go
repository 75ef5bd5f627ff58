package eval

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Split names an evaluation protocol.
type Split string

const (
	// SplitUser holds out a random fraction of each user's distinct items.
	SplitUser Split = "user"
	// SplitTime trains on interactions before a time cutoff and tests on the
	// items each user first interacts with after it.
	SplitTime Split = "time"
)

// Model names used in results and metric keys.
const (
	ModelPopularity = "popularity"
	ModelItemKNN    = "itemknn"
	ModelALS        = "als"
	ModelEASE       = "ease"
)

// Options configure Evaluate. Zero values mean the documented defaults.
type Options struct {
	// Splits to run. Default: user, plus time when the data has timestamps.
	Splits []Split
	// K is the ranking cutoff. Default 10.
	K int
	// Holdout is the fraction of a user's distinct items held out in the
	// user split. Default 0.2 (at least one item).
	Holdout float64
	// MinItems is the fewest distinct items a user needs to be evaluated in
	// the user split. Default 3.
	MinItems int
	// TimeFraction places the time-split cutoff at this quantile of
	// interaction times. Default 0.8.
	TimeFraction float64
	// MaxUsers caps the evaluated users per split (a seeded sample). Default
	// 10,000; negative means all.
	MaxUsers int
	// Seed drives the holdout and the user sample. Default 1.
	Seed uint64
	// Workers bounds parallel scoring. Default GOMAXPROCS.
	Workers int
	// Clock times the stages. Default the real clock.
	Clock clock.PassiveClock
}

func (o Options) withDefaults(ds *data.Dataset) Options {
	if len(o.Splits) == 0 {
		o.Splits = []Split{SplitUser}
		if ds.HasTime {
			o.Splits = append(o.Splits, SplitTime)
		}
	}
	if o.K == 0 {
		o.K = 10
	}
	if o.Holdout == 0 {
		o.Holdout = 0.2
	}
	if o.MinItems == 0 {
		o.MinItems = 3
	}
	if o.TimeFraction == 0 {
		o.TimeFraction = 0.8
	}
	if o.MaxUsers == 0 {
		o.MaxUsers = 10_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Validate reports every invalid option.
func (o Options) Validate(ds *data.Dataset) error {
	var errs []error
	for _, s := range o.Splits {
		switch s {
		case SplitUser:
		case SplitTime:
			if !ds.HasTime {
				errs = append(errs, errors.New("time split needs a timestamp on every interaction"))
			}
		default:
			errs = append(errs, fmt.Errorf("unknown split %q (want user or time)", s))
		}
	}
	if o.K < 1 {
		errs = append(errs, fmt.Errorf("k must be at least 1, got %d", o.K))
	}
	if o.Holdout <= 0 || o.Holdout >= 1 {
		errs = append(errs, fmt.Errorf("holdout must be in (0,1), got %g", o.Holdout))
	}
	if o.TimeFraction <= 0 || o.TimeFraction >= 1 {
		errs = append(errs, fmt.Errorf("time fraction must be in (0,1), got %g", o.TimeFraction))
	}
	if o.MinItems < 2 {
		errs = append(errs, fmt.Errorf("min items must be at least 2, got %d", o.MinItems))
	}
	return errors.Join(errs...)
}

// ModelResult is one model's quality on one split.
type ModelResult struct {
	// Model is popularity, itemknn, als or ease.
	Model string `json:"model"`
	// NDCG is the mean NDCG@K over evaluated users.
	NDCG float64 `json:"ndcg"`
	// Recall is the mean Recall@K over evaluated users.
	Recall float64 `json:"recall"`
	// Train is how long fitting took.
	Train time.Duration `json:"train"`
}

// SplitReport holds the results of one split.
type SplitReport struct {
	// Split is the protocol.
	Split Split `json:"split"`
	// K is the cutoff.
	K int `json:"k"`
	// Users is the number of evaluated users.
	Users int `json:"users"`
	// TrainPairs and TestPairs count distinct (user, item) pairs.
	TrainPairs int `json:"trainPairs"`
	// TestPairs counts held-out pairs of evaluated users.
	TestPairs int `json:"testPairs"`
	// Results lists every model, in popularity, itemknn, als, ease order;
	// ease only when it was trained (see train.EASEOptions.Enabled).
	Results []ModelResult `json:"results"`
}

// Report is the outcome of Evaluate.
type Report struct {
	// Splits holds one report per split, in the order requested.
	Splits []SplitReport `json:"splits"`
}

// Metrics flattens the report into metadata keys: "<model>/ndcg@K" and
// "<model>/recall@K" for the user split and "time/<model>/..." for the time
// split.
func (r *Report) Metrics() map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Splits {
		prefix := ""
		if s.Split != SplitUser {
			prefix = string(s.Split) + "/"
		}
		for _, res := range s.Results {
			out[fmt.Sprintf("%s%s/ndcg@%d", prefix, res.Model, s.K)] = res.NDCG
			out[fmt.Sprintf("%s%s/recall@%d", prefix, res.Model, s.K)] = res.Recall
		}
	}
	return out
}

// Result returns the result of model on split, if present.
func (r *Report) Result(split Split, model string) (ModelResult, bool) {
	for _, s := range r.Splits {
		if s.Split != split {
			continue
		}
		for _, res := range s.Results {
			if res.Model == model {
				return res, true
			}
		}
	}
	return ModelResult{}, false
}

// Evaluate runs every requested split with models configured by topts.
func Evaluate(ctx context.Context, ds *data.Dataset, topts train.Options, opts Options) (*Report, error) {
	opts = opts.withDefaults(ds)
	if err := opts.Validate(ds); err != nil {
		return nil, fmt.Errorf("invalid evaluation options: %w", err)
	}
	topts = topts.WithDefaults()
	if err := topts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid training options: %w", err)
	}
	rep := &Report{}
	for _, s := range opts.Splits {
		var sp *Fold
		switch s {
		case SplitUser:
			sp = userSplit(ds, opts)
		case SplitTime:
			sp = timeSplit(ds, opts)
		}
		sr, err := runSplit(ctx, sp, topts, opts)
		if err != nil {
			return nil, fmt.Errorf("%s split: %w", s, err)
		}
		sr.Split = s
		rep.Splits = append(rep.Splits, *sr)
	}
	return rep, nil
}
