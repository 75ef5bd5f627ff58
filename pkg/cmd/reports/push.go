package reports

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/platforms"
)

func newPush(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push RUN...",
		Short: "Copy runs kept locally into the archive",
		Long: `Copy runs from a directory archive into --archive, unchanged (same files,
same SHA256SUMS). When drill run cannot store a report in its archive (a
registry that went away), it keeps the report under <state-dir>/reports and
says so; push sends it on once the archive is back. RUN is a run id or
<plan>/<run-id>; --all pushes every run of --from.`,
		Example: `  drill reports push --archive oci://registry.example.com/drills quickstart-20261207-130540-297-f984
  drill reports push --all --from ~/.local/state/firedrill/reports --archive oci://registry.example.com/drills`,
		RunE: func(c *cobra.Command, args []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			from := v.GetString("from")
			if from == "" {
				from = filepath.Join(v.GetString("state-dir"), "reports")
			}
			return runPush(c.Context(), e, from, args, v.GetBool("all"))
		},
	}
	cmd.Flags().String("from", "", "the directory archive to copy from (default <state-dir>/reports, where drill run keeps reports)")
	cmd.Flags().String("state-dir", platforms.DefaultStateDir(), "firedrill's state directory")
	cmd.Flags().Bool("all", false, "push every run of --from")
	output.AddFlag(cmd.Flags())
	return cmd
}

func runPush(ctx context.Context, e *env, from string, runs []string, all bool) error {
	if all == (len(runs) > 0) {
		return fmt.Errorf("name the runs to push, or give --all")
	}
	src, err := local.New(from)
	if err != nil {
		return err
	}
	idx, err := src.Index(ctx)
	if err != nil {
		return err
	}
	e.warn(idx.Problems)
	entries := idx.Runs
	if !all {
		entries = nil
		for _, r := range runs {
			en, err := idx.Find(r)
			if err != nil {
				return fmt.Errorf("%s: %w", from, err)
			}
			entries = append(entries, en)
		}
	}
	pushed := []index.Entry{}
	for _, en := range entries {
		files, err := src.Get(ctx, en)
		if err != nil {
			return reported(e, err)
		}
		clean := en
		clean.Path, clean.Digest = "", ""
		got, err := e.archive.Put(ctx, clean, files)
		if err != nil {
			return err
		}
		pushed = append(pushed, got)
	}
	return output.Write(e.out, e.format, pushed, func(w io.Writer) error {
		for _, p := range pushed {
			fmt.Fprintf(w, "pushed %s to %s (%s)\n", p.Key(), e.archive, p.Digest)
		}
		return nil
	})
}
