package reports

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/trend"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/report"
)

func newTrend(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trend PLAN",
		Short: "Follow each fault of a plan across its runs",
		Long: `Show each fault of a plan, and each of its recoveries, across the plan's
archived runs, oldest first: the recovery time of every run, the median of
the runs before it, and whether it regressed. The rule, the same one
report.html applies: ` + trend.DefaultRule().String(),
		Example: `  drill reports trend quickstart
  drill reports trend --last 50 -o json quickstart`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			return runTrend(c.Context(), e, args[0], v.GetInt("last"))
		},
	}
	cmd.Flags().Int("last", 20, "the plan's newest N runs")
	output.AddFlag(cmd.Flags())
	return cmd
}

func runTrend(ctx context.Context, e *env, plan string, last int) error {
	if last <= 0 {
		return fmt.Errorf("--last must be positive, got %d", last)
	}
	runs, problems, err := archive.Select(ctx, e.archive, index.Query{Plan: plan, Last: last})
	if err != nil {
		return err
	}
	e.warn(problems)
	if len(runs) == 0 {
		return fmt.Errorf("plan %s has no runs in %s", plan, e.archive)
	}
	tr := trend.Analyze(plan, runs, runs[len(runs)-1].RunID, trend.DefaultRule())
	return output.Write(e.out, e.format, tr, func(w io.Writer) error {
		fmt.Fprintf(w, "plan %s: %d runs, %s to %s\n%s\n", plan, len(runs), stamp(runs[0].StartTime), stamp(runs[len(runs)-1].StartTime), tr.Rule)
		for i := range tr.Series {
			s := &tr.Series[i]
			fmt.Fprintf(w, "\n%s: %s\n", s.Name(), s.Type)
			rows := [][]string{{"RUN", "STARTED (UTC)", "RECOVERY", "OBJECTIVE", "MEDIAN BEFORE", "JUDGEMENT"}}
			for j := range s.Points {
				p := &s.Points[j]
				rec, median, obj := "not recovered", "-", "-"
				if p.Recovered {
					rec = report.FormatDuration(p.RecoveryTime.Duration)
				}
				if p.Judged {
					median = "not recovered"
					if p.MedianRecovered {
						median = report.FormatDuration(p.Median.Duration)
					}
				}
				if p.Objective.Duration > 0 {
					obj = report.FormatDuration(p.Objective.Duration)
				}
				why := p.Why(tr.Rule)
				if p.Regression {
					why = "REGRESSION" + strings.TrimPrefix(why, "regression")
				}
				rows = append(rows, []string{p.RunID, stamp(p.Start), rec, obj, median, why})
			}
			fmt.Fprint(w, columns(rows))
		}
		return nil
	})
}
