package reports

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
)

func newVerify(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [RUN...]",
		Short: "Check archived reports against their checksums",
		Long: `Read every archived report set (or the runs named) and check each file
against the set's SHA256SUMS, and SHA256SUMS against the digest the index
recorded when the run was archived (in a registry, the manifest digest, and
every layer against its own digest). A file changed, missing or added, a
manifest replaced, or a report that was never completed is named.

Exit status: 0 when every report is intact, 1 when one is not.`,
		Example: `  drill reports verify
  drill reports verify quickstart-20261207-130540-297-f984
  drill reports verify --archive oci://registry.example.com/drills`,
		RunE: func(c *cobra.Command, args []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			return runVerify(c.Context(), e, args)
		},
	}
	output.AddFlag(cmd.Flags())
	return cmd
}

type verifyResult struct {
	Archive  string          `json:"archive"`
	Intact   []string        `json:"intact"`
	Problems []index.Problem `json:"problems"`
}

func runVerify(ctx context.Context, e *env, runs []string) error {
	idx, err := e.archive.Index(ctx)
	if err != nil {
		return err
	}
	res := verifyResult{Archive: e.archive.String(), Intact: []string{}, Problems: []index.Problem{}}
	entries := idx.Runs
	if len(runs) > 0 {
		entries = nil
		for _, r := range runs {
			en, err := idx.Find(r)
			if err != nil {
				return err
			}
			entries = append(entries, en)
		}
	} else {
		// Sets the index could not take are damaged too.
		res.Problems = append(res.Problems, idx.Problems...)
	}
	for _, en := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := e.archive.Get(ctx, en)
		var pr index.Problem
		switch {
		case errors.As(err, &pr):
			res.Problems = append(res.Problems, pr)
		case err != nil:
			return err
		default:
			res.Intact = append(res.Intact, en.Key())
		}
	}
	if err := output.Write(e.out, e.format, res, func(w io.Writer) error {
		for _, p := range res.Problems {
			fmt.Fprintf(w, "FAILED  %s: %s\n", p.Path, p.Reason)
		}
		fmt.Fprintf(w, "%d intact, %d damaged in %s\n", len(res.Intact), len(res.Problems), res.Archive)
		return nil
	}); err != nil {
		return err
	}
	if len(res.Problems) > 0 {
		return &exitcode.Error{Code: 1}
	}
	return nil
}
