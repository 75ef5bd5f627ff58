package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/data/movielens"
)

// NewImportCommand returns `recommender import`, whose subcommands convert
// public datasets into the data directory format.
func NewImportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Convert a public dataset into a data directory",
		Long: `Convert a public dataset into the recommender's data directory format
(interactions.csv, items.csv), ready for train and eval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportMovieLensCommand())
	return cmd
}

// importMovieLensOptions are the flags of `recommender import movielens`.
type importMovieLensOptions struct {
	src       string
	out       string
	minRating float64
	output    outputFlags
	clock     clock.PassiveClock
}

func (o *importMovieLensOptions) validate() error {
	var errs []error
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	return errors.Join(append(errs, o.output.validate())...)
}

// importResult is the machine-readable result of `recommender import`.
type importResult struct {
	// Source is the directory read; Dir the data directory written.
	Source string `json:"source"`
	Dir    string `json:"dir"`
	// DataHash is the data hash every model trained on it records.
	DataHash string `json:"dataHash"`
	// Interactions, Users and Items count what was imported.
	Interactions int `json:"interactions"`
	Users        int `json:"users"`
	Items        int `json:"items"`
}

func newImportMovieLensCommand() *cobra.Command {
	o := &importMovieLensOptions{clock: clock.RealClock{}}
	cmd := &cobra.Command{
		Use:   "movielens DIR --out DIR",
		Short: "Convert MovieLens ratings.csv and movies.csv",
		Long: `Convert a MovieLens directory in the "latest" format (ml-latest-small,
ml-latest, ml-25m, ml-32m: ratings.csv with userId,movieId,rating,timestamp and
optionally movies.csv with movieId,title,genres) into a data directory. Every
rating becomes an interaction whose weight is the rating; the first genre
becomes the item's category. --out must not exist or be empty; it is written
completely or not at all.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.src = args[0]
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.output.add(f)
	f.StringVar(&o.out, "out", "", "data directory to create")
	f.Float64Var(&o.minRating, "min-rating", 0, "drop ratings below this value (0 keeps all)")
	return cmd
}

func (o *importMovieLensOptions) run(ctx context.Context, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	w := o.output.text(stdout)
	if err := checkEmptyDir(o.out); err != nil {
		return err
	}
	t0 := o.clock.Now()
	ds, err := movielens.Read(ctx, o.src, movielens.Options{MinRating: o.minRating})
	if err != nil {
		return fmt.Errorf("importing %s: %w", o.src, err)
	}
	if err := writeDataAtomically(ctx, o.out, ds); err != nil {
		return err
	}
	fmt.Fprintf(w, "Imported %d ratings of %d users on %d movies from %s to %s in %s\n",
		len(ds.Interactions), len(ds.Users), len(ds.Items), o.src, o.out, o.clock.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(w, "  data hash          %s\n", ds.Hash)
	return o.output.write(stdout, importResult{
		Source: o.src, Dir: o.out, DataHash: ds.Hash, Interactions: len(ds.Interactions), Users: len(ds.Users), Items: len(ds.Items),
	})
}

// checkEmptyDir fails unless dir is missing or an empty directory.
func checkEmptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking --out: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("--out %s is not empty", dir)
	}
	return nil
}

// writeDataAtomically writes ds into a temporary sibling of dir and renames
// it into place, so dir holds all files or none.
func writeDataAtomically(ctx context.Context, dir string, ds *data.Dataset) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating a temporary data directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone after the rename; a leftover on failure
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
	if err := data.Write(ctx, tmp, ds); err != nil {
		return err
	}
	// An empty directory may exist already; rename replaces only an empty one.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving the data into place at %s: %w", dir, err)
	}
	return nil
}
