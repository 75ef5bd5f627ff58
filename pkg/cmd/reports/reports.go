package reports

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/cmd/reports/archiveflags"
)

// NewCommand returns the reports command and its subcommands.
func NewCommand(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "List, compare and check archived drill reports",
		Long: `Work with the report archive that drill run writes to: a directory
(<dir>/<plan>/<run-id>/, the default ` + archiveflags.DefaultDir() + `) or an OCI
registry (oci://host/repository, one artifact per run).

Every run's report set is report.json, report.md, junit.xml, report.html and
SHA256SUMS. The archive keeps an index of every run with each fault's
recovery numbers, so listing, diffing and trending never parse a report.
A report that is corrupt or partial is named on stderr and skipped.`,
		Example: `  # The runs of one plan, newest last
  drill reports list --plan quickstart

  # One run's results; its report.html, re-rendered with today's trend
  drill reports show quickstart-20261207-130540-297-f984
  drill reports show --html quickstart-20261207-130540-297-f984 > report.html

  # Two runs side by side, and a plan's faults across its runs
  drill reports diff RUN1 RUN2
  drill reports trend quickstart

  # Check every report against its checksums; keep 20 runs per plan
  drill reports verify
  drill reports prune --keep 20 --max-age 90d`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	archiveflags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newList(v), newShow(v), newDiff(v), newTrend(v), newVerify(v), newPrune(v), newPush(v))
	return cmd
}

// env is what every subcommand works with.
type env struct {
	archive archive.Archive
	format  output.Format
	out     io.Writer
	err     io.Writer
}

// newEnv reads the archive settings and the output format.
func newEnv(c *cobra.Command, v *viper.Viper) (*env, error) {
	format, err := output.Parse(v.GetString("output"))
	if err != nil {
		return nil, err
	}
	opts, err := archiveflags.FromViper(v)
	if err != nil {
		return nil, err
	}
	a, err := opts.Open()
	if err != nil {
		return nil, err
	}
	return &env{archive: a, format: format, out: c.OutOrStdout(), err: c.ErrOrStderr()}, nil
}

// warn names the report sets the archive skipped.
func (e *env) warn(problems []index.Problem) {
	for _, p := range problems {
		fmt.Fprintf(e.err, "warning: skipped %s: %s\n", p.Path, p.Reason)
	}
}

// index reads the archive's index and warns about what it skipped.
func (e *env) index(ctx context.Context) (*index.Index, error) {
	idx, err := e.archive.Index(ctx)
	if err != nil {
		return nil, err
	}
	e.warn(idx.Problems)
	return idx, nil
}

// stamp prints an instant for tables: UTC to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
