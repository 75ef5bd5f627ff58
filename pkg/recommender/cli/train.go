package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/model"
	"github.com/firedrill/firedrill/pkg/recommender/train"
	"github.com/firedrill/firedrill/pkg/recommender/tune"
)

// trainOptions are the flags of `recommender train`.
type trainOptions struct {
	data        string
	out         string
	skipEval    bool
	evalUsers   int
	recommender string
	output      outputFlags
	tune        tuneFlags
	train       train.Options
	clock       clock.PassiveClock
}

func (o *trainOptions) validate() error {
	var errs []error
	if o.data == "" {
		errs = append(errs, errors.New("--data is required"))
	}
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	switch o.recommender {
	case model.RecommenderAuto, model.RecommenderALS, model.RecommenderItemKNN, model.RecommenderEASE, model.RecommenderPopularity:
	default:
		errs = append(errs, fmt.Errorf("--recommender must be auto, als, itemknn, ease or popularity, got %q", o.recommender))
	}
	errs = append(errs, o.output.validate(), o.tune.validate(), o.train.WithDefaults().Validate())
	return errors.Join(errs...)
}

// trainResult is the machine-readable result of `recommender train`.
type trainResult struct {
	// Dir is the artifact directory.
	Dir string `json:"dir"`
	// Model is the saved model's metadata.
	Model model.Metadata `json:"model"`
	// Evaluation is the evaluation before training; absent with --skip-eval.
	Evaluation *eval.Report `json:"evaluation,omitempty"`
	// Tuning is the hyper-parameter search; absent when it did not run.
	Tuning *tune.Result `json:"tuning,omitempty"`
}

// addTrainingFlags registers the model hyper-parameters shared by train and
// eval.
func addTrainingFlags(f *pflag.FlagSet, o *train.Options) {
	d := train.Options{}.WithDefaults()
	*o = d
	o.Workers = 0
	o.ALS.Workers, o.KNN.Workers, o.EASE.Workers = 0, 0, 0
	f.IntVar(&o.ALS.Factors, "factors", d.ALS.Factors, "ALS latent factors")
	f.IntVar(&o.ALS.Iterations, "iterations", d.ALS.Iterations, "ALS sweeps")
	f.Float64Var(&o.ALS.Regularization, "regularization", d.ALS.Regularization, "ALS L2 regularisation λ")
	f.Float64Var(&o.ALS.Alpha, "alpha", d.ALS.Alpha, "ALS confidence scale: c = 1 + alpha·log(1 + weight/epsilon)")
	f.Float64Var(&o.ALS.Epsilon, "epsilon", d.ALS.Epsilon, "ALS confidence weight scale")
	f.IntVar(&o.ALS.CGSteps, "cg-steps", d.ALS.CGSteps, "conjugate-gradient steps per row and sweep")
	f.Uint64Var(&o.ALS.Seed, "seed", d.ALS.Seed, "seed for factor initialisation")
	f.IntVar(&o.KNN.K, "neighbors", d.KNN.K, "item-kNN neighbours kept per item")
	f.Float64Var(&o.KNN.Shrink, "shrink", d.KNN.Shrink, "item-kNN similarity shrinkage")
	f.Float64Var(&o.Blend.Text, "search-text-weight", d.Blend.Text, "search blend: BM25 text relevance weight")
	f.Float64Var(&o.Blend.Personal, "search-personal-weight", d.Blend.Personal, "search blend: personal ALS score weight")
	f.Float64Var(&o.Blend.Popularity, "search-popularity-weight", d.Blend.Popularity, "search blend: popularity weight")
	f.IntVar(&o.Blend.Candidates, "search-candidates", d.Blend.Candidates, "search blend: BM25 hits re-ranked")
	f.StringVar((*string)(&o.EASE.Mode), "ease", string(d.EASE.Mode), "train EASE: auto (when its dense solve has order <= 4096), on or off")
	f.Float64Var(&o.EASE.Lambda, "ease-lambda", d.EASE.Lambda, "EASE L2 regularisation λ")
	f.IntVar(&o.EASE.MaxItems, "ease-max-items", d.EASE.MaxItems, "EASE models at most this many items, the most popular")
	f.IntVar(&o.EASE.K, "ease-neighbors", d.EASE.K, "EASE weights kept per item, the largest")
	f.IntVar(&o.Workers, "workers", 0, "training goroutines (0 = GOMAXPROCS)")
}

// NewTrainCommand returns `recommender train`, which fits every model on a
// data directory, evaluates them on a holdout, and saves one versioned
// artifact.
func NewTrainCommand() *cobra.Command {
	o := &trainOptions{clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "train --data DIR --out DIR",
		Short: "Train the recommender models and save a model artifact",
		Long: `Train popularity, item-kNN, implicit ALS and the BM25 search index on the
CSV files in --data, evaluate them on a per-user holdout (and a time split
when the data has timestamps), and save one versioned model artifact to
--out, which must not exist or be empty. The recorded metrics come from
models fitted on the training split; the saved models are fitted on all data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	o.output.add(f)
	f.StringVar(&o.data, "data", "", "directory with interactions.csv (and optionally items.csv, queries.csv)")
	f.StringVar(&o.out, "out", "", "artifact directory to create")
	f.BoolVar(&o.skipEval, "skip-eval", false, "do not evaluate; the artifact records no metrics")
	f.IntVar(&o.evalUsers, "eval-users", 10_000, "users sampled per evaluation split (-1 = all)")
	f.StringVar(&o.recommender, "recommender", model.RecommenderAuto, "what the model recommends by: auto (best validation NDCG), als, itemknn, ease or popularity")
	addTuneFlags(f, &o.tune)
	addTrainingFlags(f, &o.train)
	return cmd
}

func (o *trainOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	// Progress goes to stderr, the result to stdout (as text, or as one
	// document at the end).
	w := o.output.text(stdout)
	t0 := o.clock.Now()
	ds, err := data.Read(ctx, o.data)
	if err != nil {
		return fmt.Errorf("reading data: %w", err)
	}
	fmt.Fprintf(stderr, "Read %d interactions of %d users on %d items in %s\n", len(ds.Interactions), len(ds.Users), len(ds.Items), o.clock.Since(t0).Round(time.Millisecond))
	opts := o.train
	opts.Clock = o.clock
	evalOpts := eval.Options{MaxUsers: o.evalUsers, Clock: o.clock}
	var tuned *tune.Result
	if o.tune.enabled(o.data) {
		res, tctx, err := runTune(ctx, stderr, w, o.clock, ds, opts, o.tune.budget, evalOpts)
		if err != nil {
			return err
		}
		tuned, ctx, opts = res, tctx, res.Options
	}
	var rep *eval.Report
	if !o.skipEval {
		t0 = o.clock.Now()
		if rep, err = eval.Evaluate(ctx, ds, opts, evalOpts); err != nil {
			return fmt.Errorf("evaluating: %w", err)
		}
		fmt.Fprintf(w, "Evaluated in %s\n", o.clock.Since(t0).Round(time.Millisecond))
		printReport(w, rep)
		opts.Metrics = rep.Metrics()
	}
	opts.Recommender, opts.Notes = o.recommender, map[string]string{"recommender.by": "--recommender"}
	if o.recommender == model.RecommenderAuto {
		var by string
		opts.Recommender, by = chooseRecommender(tuned, rep)
		opts.Notes["recommender.by"] = by
	}
	if tuned != nil {
		if opts.Metrics == nil {
			opts.Metrics = map[string]float64{}
		}
		maps.Copy(opts.Metrics, tuned.Metrics())
		maps.Copy(opts.Notes, tuned.Params())
	}
	fmt.Fprintf(w, "Recommendations rank by %s (chosen by %s)\n", opts.Recommender, opts.Notes["recommender.by"])
	mdl, tm, err := train.Build(ctx, ds, opts)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	defer func() { _ = mdl.Close() }() // read-only index; nothing to lose
	fmt.Fprintf(stderr, "Trained on all data in %s (popularity %s, item-kNN %s, ALS %s, EASE %s, search index and assembly %s)\n",
		tm.Total.Round(time.Millisecond), tm.Popularity.Round(time.Millisecond), tm.KNN.Round(time.Millisecond),
		tm.ALS.Round(time.Millisecond), tm.EASE.Round(time.Millisecond), tm.Search.Round(time.Millisecond))
	t0 = o.clock.Now()
	if err := mdl.Save(o.out); err != nil {
		return fmt.Errorf("saving model: %w", err)
	}
	md := mdl.Metadata()
	fmt.Fprintf(w, "Saved model %s (%d users, %d items) to %s in %s\n", md.Version, md.Users, md.Items, o.out, o.clock.Since(t0).Round(time.Millisecond))
	return o.output.write(stdout, trainResult{Dir: o.out, Model: md, Evaluation: rep, Tuning: tuned})
}

// printReport writes an evaluation report as a table.
func printReport(w io.Writer, rep *eval.Report) {
	for _, s := range rep.Splits {
		fmt.Fprintf(w, "  %s split: %d users, %d train pairs, %d test pairs\n", s.Split, s.Users, s.TrainPairs, s.TestPairs)
		fmt.Fprintf(w, "    %-12s %10s %10s %12s\n", "model", fmt.Sprintf("NDCG@%d", s.K), fmt.Sprintf("Recall@%d", s.K), "fit")
		for _, r := range s.Results {
			fmt.Fprintf(w, "    %-12s %10.4f %10.4f %12s\n", r.Model, r.NDCG, r.Recall, r.Train.Round(time.Millisecond))
		}
	}
}
