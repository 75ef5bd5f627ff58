package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

// genOptions are the flags of `recommender gen`.
type genOptions struct {
	out     string
	users   int
	items   int
	seed    uint64
	days    int
	start   string
	workers int
	output  outputFlags
	clock   clock.PassiveClock
}

func (o *genOptions) validate() error {
	var errs []error
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	return errors.Join(append(errs, o.output.validate())...)
}

// genResult is the machine-readable result of `recommender gen`.
type genResult struct {
	// Dir is the data directory written.
	Dir string `json:"dir"`
	// DataHash is the data hash every model trained on it records.
	DataHash string `json:"dataHash"`
	// Stats are the calibration statistics.
	Stats data.Stats `json:"stats"`
}

// NewGenCommand returns `recommender gen`, which writes a seeded synthetic
// e-commerce dataset as CSV files.
func NewGenCommand() *cobra.Command {
	d := data.DefaultConfig()
	o := &genOptions{users: d.Users, items: d.Items, seed: d.Seed, days: d.Days, start: d.Start.Format(time.DateOnly), clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "gen --out DIR",
		Short: "Generate a synthetic e-commerce dataset",
		Long: `Generate a deterministic synthetic e-commerce dataset: a catalogue of
20 departments and 130 aisles, users with latent tastes, sessions with search
queries and a view → cart → purchase funnel. Writes interactions.csv,
items.csv and queries.csv to --out. The same flags always produce the same
bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.output.add(f)
	f.StringVar(&o.out, "out", "", "directory to write the CSV files to (created if missing)")
	f.IntVar(&o.users, "users", o.users, "number of users")
	f.IntVar(&o.items, "items", o.items, "number of catalogue items")
	f.Uint64Var(&o.seed, "seed", o.seed, "random seed; the same seed yields identical files")
	f.IntVar(&o.days, "days", o.days, "length of the simulated period in days")
	f.StringVar(&o.start, "start", o.start, "first simulated day (YYYY-MM-DD, UTC)")
	f.IntVar(&o.workers, "workers", 0, "generator goroutines (0 = GOMAXPROCS); output does not depend on it")
	return cmd
}

func (o *genOptions) run(ctx context.Context, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	w := o.output.text(stdout)
	start, err := time.Parse(time.DateOnly, o.start)
	if err != nil {
		return fmt.Errorf("parsing --start: %w", err)
	}
	cfg := data.Config{Users: o.users, Items: o.items, Seed: o.seed, Days: o.days, Start: start, Workers: o.workers}
	t0 := o.clock.Now()
	ds, err := data.Generate(ctx, cfg)
	if err != nil {
		return err
	}
	genTime := o.clock.Since(t0)
	t0 = o.clock.Now()
	if err := data.Write(ctx, o.out, ds); err != nil {
		return err
	}
	marker, err := json.MarshalIndent(map[string]any{
		"generator": "recommender gen", "users": o.users, "items": o.items, "seed": o.seed, "days": o.days, "start": o.start,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", data.GeneratorFile, err)
	}
	if err := os.WriteFile(filepath.Join(o.out, data.GeneratorFile), append(marker, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", data.GeneratorFile, err)
	}
	writeTime := o.clock.Since(t0)
	st := data.Summarize(ds)
	fmt.Fprintf(w, "Wrote %d interactions, %d items, %d users and %d queries to %s\n", st.Interactions, st.Items, st.Users, st.Queries, o.out)
	fmt.Fprintf(w, "  generated in %s, written in %s\n", genTime.Round(time.Millisecond), writeTime.Round(time.Millisecond))
	fmt.Fprintf(w, "  data hash          %s\n", ds.Hash)
	printStats(w, st)
	return o.output.write(stdout, genResult{Dir: o.out, DataHash: ds.Hash, Stats: st})
}

// printStats writes the calibration statistics of a dataset.
func printStats(w io.Writer, st data.Stats) {
	fmt.Fprintf(w, "  top 1%% of items    %.1f%% of interactions\n", 100*st.Top1Share)
	fmt.Fprintf(w, "  top 10%% of items   %.1f%% of interactions\n", 100*st.Top10Share)
	fmt.Fprintf(w, "  items with <= 1    %.1f%%\n", 100*st.AtMostOneShare)
	if st.SessionMean > 0 {
		fmt.Fprintf(w, "  session length     mean %.1f, median %.0f events\n", st.SessionMean, st.SessionMedian)
	}
	if st.CartPerView > 0 {
		fmt.Fprintf(w, "  funnel             carts %.2f%%, purchases %.2f%% of views\n", 100*st.CartPerView, 100*st.PurchasePerView)
	}
}
