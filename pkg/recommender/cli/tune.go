package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/train"
	"github.com/firedrill/firedrill/pkg/recommender/tune"
)

// tuneFlags are the hyper-parameter search flags shared by train and eval.
type tuneFlags struct {
	mode   string
	budget time.Duration
}

func addTuneFlags(f *pflag.FlagSet, o *tuneFlags) {
	f.StringVar(&o.mode, "tune", "auto", "search hyper-parameters on a validation split: auto (for data not written by `recommender gen`), on or off")
	f.Lookup("tune").NoOptDefVal = "on"
	f.DurationVar(&o.budget, "tune-budget", tune.DefaultBudget, "time budget of the hyper-parameter search")
}

func (o *tuneFlags) validate() error {
	var errs []error
	switch o.mode {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("--tune must be auto, on or off, got %q", o.mode))
	}
	if o.budget <= 0 {
		errs = append(errs, fmt.Errorf("--tune-budget must be positive, got %s", o.budget))
	}
	return errors.Join(errs...)
}

// enabled decides whether to tune the data in dir: auto tunes everything but
// synthetic data, for which the defaults were chosen.
func (o *tuneFlags) enabled(dir string) bool {
	switch o.mode {
	case "on":
		return true
	case "off":
		return false
	}
	_, err := os.Stat(filepath.Join(dir, data.GeneratorFile))
	return err != nil
}

// runTune searches hyper-parameters on a validation fold of the user
// split's training part, announcing the search on progress and printing
// what it chose on result. A first interrupt ends the search; the caller
// goes on with the returned context, which an interruption no longer
// cancels.
func runTune(ctx context.Context, progress, result io.Writer, clk clock.PassiveClock, ds *data.Dataset, opts train.Options, budget time.Duration, evalOpts eval.Options) (*tune.Result, context.Context, error) {
	fold := eval.UserSplit(ds, evalOpts)
	fmt.Fprintf(progress, "Tuning on a validation split of the training part (budget %s) ...\n", budget)
	res, err := tune.Run(ctx, fold.Train, opts, tune.Options{Budget: budget, Clock: clk, Seed: evalOpts.Seed})
	if err != nil {
		return nil, ctx, fmt.Errorf("tuning: %w", err)
	}
	printTune(result, res)
	if res.Stop == tune.StopInterrupted {
		fmt.Fprintln(progress, "Interrupted: going on with the tuned settings so far (interrupt again to abort)")
		ctx = context.WithoutCancel(ctx)
	}
	return res, ctx, nil
}

// printTune writes a tuning result: a summary line and a table.
func printTune(w io.Writer, r *tune.Result) {
	fmt.Fprintf(w, "Tuned in %s of %s, stopped: %s\n", r.Elapsed.Round(time.Millisecond), r.Budget, r.Stop)
	fmt.Fprintf(w, "  validation split: %d users, %d train pairs, %d validation pairs\n", r.Users, r.TrainPairs, r.ValidationPairs)
	fmt.Fprintf(w, "    %-12s %10s %10s %7s  %s\n", "model", "NDCG@10", "Recall@10", "trials", "settings")
	for _, m := range r.Models {
		settings := make([]string, 0, len(m.Params))
		for _, k := range slices.Sorted(maps.Keys(m.Params)) {
			_, name, _ := strings.Cut(k, ".")
			settings = append(settings, name+"="+m.Params[k])
		}
		if !m.Tuned {
			fmt.Fprintf(w, "    %-12s %10s %10s %7d  %s (not tuned: no time left)\n", m.Model, "-", "-", m.Trials, strings.Join(settings, " "))
			continue
		}
		fmt.Fprintf(w, "    %-12s %10.4f %10.4f %7d  %s\n", m.Model, m.NDCG, m.Recall, m.Trials, strings.Join(settings, " "))
	}
}

// chooseRecommender picks what the model's Recommend ranks by: the best
// validation NDCG@10 when tuning ran, else the best user-split NDCG@10 of
// the evaluation, else ALS. It returns the choice and what it was based on.
func chooseRecommender(tuned *tune.Result, rep *eval.Report) (string, string) {
	if tuned != nil {
		if best, ok := tuned.Best(); ok {
			return best.Model, "validation NDCG@10"
		}
	}
	if rep != nil {
		best, by := "", 0.0
		for _, s := range rep.Splits {
			if s.Split != eval.SplitUser {
				continue
			}
			for _, r := range s.Results {
				if best == "" || r.NDCG > by {
					best, by = r.Model, r.NDCG
				}
			}
		}
		if best != "" {
			return best, "evaluation NDCG@10 (user split)"
		}
	}
	return model.RecommenderALS, "default"
}
