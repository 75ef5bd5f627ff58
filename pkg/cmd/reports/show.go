package reports

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/report"
)

func newShow(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show one archived run",
		Long: `Show one run: where its report is, its phase and verdict, and the fault
table drill run printed. RUN is a run id, or <plan>/<run-id> when two plans
share one. The report set is read and checked against its SHA256SUMS first;
a corrupt report is an error that names it.

--html writes the run's report.html to stdout, rendered again from its
report.json with the plan's trend as the archive holds it now (the runs
before this one). -o json or yaml prints the whole report.`,
		Example: `  drill reports show quickstart-20261207-130540-297-f984
  drill reports show --html quickstart-20261207-130540-297-f984 > report.html
  drill reports show -o json quickstart/quickstart-20261207-130540-297-f984`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			return runShow(c.Context(), e, args[0], v.GetBool("html"))
		},
	}
	cmd.Flags().Bool("html", false, "write the run's report.html, rendered again with the current trend, to stdout")
	output.AddFlag(cmd.Flags())
	return cmd
}

func runShow(ctx context.Context, e *env, run string, html bool) error {
	if html && e.format.Machine() {
		return errors.New("--html writes HTML; it cannot be combined with --output json or yaml")
	}
	idx, err := e.index(ctx)
	if err != nil {
		return err
	}
	entry, err := idx.Find(run)
	if err != nil {
		return err
	}
	if html {
		page, err := archive.RenderHTML(ctx, e.archive, entry, trend.DefaultRule())
		if err != nil {
			return reported(e, err)
		}
		_, err = e.out.Write(page)
		return err
	}
	files, err := e.archive.Get(ctx, entry)
	if err != nil {
		return reported(e, err)
	}
	r, err := archive.ReadReport(files)
	if err != nil {
		return fmt.Errorf("run %s: %w", entry.Key(), err)
	}
	return output.Write(e.out, e.format, r, func(w io.Writer) error {
		fmt.Fprintf(w, "run       %s\nplan      %s\nphase     %s, verdict %s\n", r.RunID, r.Plan.Name, r.Phase, report.Word(r.Verdict))
		if r.Message != "" {
			fmt.Fprintf(w, "message   %s\n", r.Message)
		}
		fmt.Fprintf(w, "started   %s\n", stamp(entry.StartTime))
		if d := entry.Duration(); d > 0 {
			fmt.Fprintf(w, "finished  %s (%s)\n", stamp(entry.CompletionTime), report.FormatDuration(d))
		}
		fmt.Fprintf(w, "trigger   %s\nplatform  %s\nreport    %s\n", dash(string(r.Trigger)), r.Platform, archive.Locate(e.archive, entry))
		if p := archive.HTMLPath(e.archive, entry); p != "" {
			fmt.Fprintf(w, "html      %s\n", p)
		}
		fmt.Fprintf(w, "digest    %s\n\n", entry.Digest)
		fmt.Fprint(w, report.Table(r))
		return nil
	})
}

// reported prints a damaged report's problem and exits 1; other errors
// go up as they are.
func reported(e *env, err error) error {
	var pr index.Problem
	if errors.As(err, &pr) {
		fmt.Fprintf(e.err, "error: %s\n", pr.Error())
		return &exitcode.Error{Code: 1}
	}
	return err
}
