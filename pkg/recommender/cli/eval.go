package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/eval"
	"github.com/firedrill/firedrill/pkg/recommender/train"
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
	json     bool
	tune     tuneFlags
	train    train.Options
	clock    clock.PassiveClock
}

func (o *evalOptions) validate() error {
	if o.data == "" {
		return errors.New("--data is required")
	}
	return errors.Join(o.tune.validate(), o.train.WithDefaults().Validate())
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
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "directory with interactions.csv (and optionally items.csv)")
	f.StringSliceVar(&o.splits, "split", nil, "splits to run: user, time (default: user, plus time when timestamps exist)")
	f.IntVar(&o.k, "k", 10, "ranking cutoff")
	f.Float64Var(&o.holdout, "holdout", 0.2, "user split: fraction of each user's items held out")
	f.IntVar(&o.minItems, "min-items", 3, "user split: fewest distinct items for a user to be evaluated")
	f.IntVar(&o.users, "max-users", 10_000, "users sampled per split (-1 = all)")
	f.Uint64Var(&o.seed, "eval-seed", 1, "seed for the holdout and the user sample")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	addTuneFlags(f, &o.tune)
	addTrainingFlags(f, &o.train)
	return cmd
}

func (o *evalOptions) run(ctx context.Context, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
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
	if o.tune.enabled(o.data) {
		tw := w
		if o.json {
			tw = io.Discard
		}
		res, tctx, err := runTune(ctx, tw, o.clock, ds, topts, o.tune.budget, opts)
		if err != nil {
			return err
		}
		ctx, topts = tctx, res.Options
	}
	rep, err := eval.Evaluate(ctx, ds, topts, opts)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("encoding report: %w", err)
		}
		return nil
	}
	fmt.Fprintf(w, "Evaluated %d interactions of %d users on %d items in %s\n", len(ds.Interactions), len(ds.Users), len(ds.Items), o.clock.Since(t0).Round(time.Millisecond))
	printReport(w, rep)
	return nil
}
