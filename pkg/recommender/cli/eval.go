package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
	"github.com/firedrill/firedrill/pkg/recommender/tune"
)

// evalOptions are the flags of `recommender eval`.
type evalOptions struct {
	data     string
	splits   []string
	k        int
	holdout  float64
	minItems int
	users    int
	seed     uint64
	output   outputFlags
	json     bool // deprecated alias of --output json
	tune     tuneFlags
	train    train.Options
	clock    clock.PassiveClock
}

func (o *evalOptions) validate() error {
	if o.data == "" {
		return errors.New("--data is required")
	}
	return errors.Join(o.output.validate(), o.tune.validate(), o.train.WithDefaults().Validate())
}

// evalResult is the machine-readable result of `recommender eval`: the
// report (its JSON is what --json printed) and, when tuning ran, the
// tuning result with the settings that were evaluated.
type evalResult struct {
	*eval.Report
	Tuning *tune.Result `json:"tuning,omitempty"`
}

// NewEvalCommand returns `recommender eval`, which reports NDCG@K and
// Recall@K of every model on a data directory.
func NewEvalCommand() *cobra.Command {
	o := &evalOptions{clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "eval --data DIR",
		Short: "Evaluate the recommender models offline",
		Long: `Fit popularity, item-kNN and ALS on a training split of the data in --data
and rank the full catalogue for each evaluated user, excluding the user's
training items. Reports NDCG@K and Recall@K per model for a per-user random
holdout and, when every interaction has a timestamp, a global time split.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.json {
				if cmd.Flags().Changed("output") && o.output.format != string(output.JSON) {
					return fmt.Errorf("--json means --output json; it cannot be combined with --output %s", o.output.format)
				}
				o.output.format = string(output.JSON)
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	// pflag prints the deprecation note while parsing, through cobra to
	// OutOrStderr, which is stdout when a parent set one (drill does);
	// send it to stderr so stdout keeps carrying the result only.
	f.SetOutput(stderrOf{cmd})
	f.StringVar(&o.data, "data", "", "directory with interactions.csv (and optionally items.csv)")
	f.StringSliceVar(&o.splits, "split", nil, "splits to run: user, time (default: user, plus time when timestamps exist)")
	f.IntVar(&o.k, "k", 10, "ranking cutoff")
	f.Float64Var(&o.holdout, "holdout", 0.2, "user split: fraction of each user's items held out")
	f.IntVar(&o.minItems, "min-items", 3, "user split: fewest distinct items for a user to be evaluated")
	f.IntVar(&o.users, "max-users", 10_000, "users sampled per split (-1 = all)")
	f.Uint64Var(&o.seed, "eval-seed", 1, "seed for the holdout and the user sample")
	o.output.add(f)
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	_ = f.MarkDeprecated("json", "use -o json instead") // the flag exists
	addTuneFlags(f, &o.tune)
	addTrainingFlags(f, &o.train)
	return cmd
}

func (o *evalOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	w := o.output.text(stdout)
	ds, err := data.Read(ctx, o.data)
	if err != nil {
		return fmt.Errorf("reading data: %w", err)
	}
	opts := eval.Options{K: o.k, Holdout: o.holdout, MinItems: o.minItems, MaxUsers: o.users, Seed: o.seed, Clock: o.clock}
	for _, s := range o.splits {
		opts.Splits = append(opts.Splits, eval.Split(s))
	}
	topts := o.train
	topts.Clock = o.clock
	t0 := o.clock.Now()
	var tuned *tune.Result
	if o.tune.enabled(o.data) {
		res, tctx, err := runTune(ctx, stderr, w, o.clock, ds, topts, o.tune.budget, opts)
		if err != nil {
			return err
		}
		tuned, ctx, topts = res, tctx, res.Options
	}
	rep, err := eval.Evaluate(ctx, ds, topts, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Evaluated %d interactions of %d users on %d items in %s\n", len(ds.Interactions), len(ds.Users), len(ds.Items), o.clock.Since(t0).Round(time.Millisecond))
	printReport(w, rep)
	return o.output.write(stdout, evalResult{Report: rep, Tuning: tuned})
}
