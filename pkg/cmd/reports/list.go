package reports

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/report"
)

type listOptions struct {
	Plan  string
	Limit int
}

func newList(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the archived runs, oldest first",
		Long: `List the runs in the archive from its index, oldest first: run id, plan,
start, duration, phase, verdict, worst recovery against its objective and
trigger. -o json or yaml prints the index entries, every fault's numbers
included, and the problems found.`,
		Example: `  drill reports list
  drill reports list --plan quickstart --limit 10
  drill reports list -o json --archive oci://registry.example.com/drills`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			return runList(c.Context(), e, listOptions{Plan: v.GetString("plan"), Limit: v.GetInt("limit")})
		},
	}
	f := cmd.Flags()
	f.String("plan", "", "only the runs of this plan")
	f.Int("limit", 0, "only the newest N runs (0: all)")
	output.AddFlag(f)
	return cmd
}

// runsLister is an archive that lists its runs without their faults
// faster than its whole index (a directory archive).
type runsLister interface {
	Runs(ctx context.Context) (*index.Index, error)
}

// listResult is what list prints for machines.
type listResult struct {
	Archive  string          `json:"archive"`
	Runs     []index.Entry   `json:"runs"`
	Problems []index.Problem `json:"problems,omitempty"`
}

func runList(ctx context.Context, e *env, o listOptions) error {
	if o.Limit < 0 {
		return fmt.Errorf("--limit must not be negative, got %d", o.Limit)
	}
	var idx *index.Index
	var err error
	if l, ok := e.archive.(runsLister); ok && !e.format.Machine() {
		// The table shows no fault: read the index without them.
		idx, err = l.Runs(ctx)
		if err == nil {
			e.warn(idx.Problems)
		}
	} else {
		idx, err = e.index(ctx)
	}
	if err != nil {
		return err
	}
	res := listResult{Archive: e.archive.String(), Runs: idx.Select(index.Query{Plan: o.Plan, Last: o.Limit}), Problems: idx.Problems}
	return output.Write(e.out, e.format, res, func(w io.Writer) error {
		if len(res.Runs) == 0 {
			fmt.Fprintf(w, "no runs in %s\n", res.Archive)
			return nil
		}
		writeRuns(w, res.Runs)
		return nil
	})
}

// writeRuns prints runs as a table. It builds the table by hand: a list
// of ten thousand runs must print in milliseconds.
func writeRuns(w io.Writer, runs []index.Entry) {
	header := []string{"RUN", "PLAN", "STARTED (UTC)", "DURATION", "PHASE", "VERDICT", "WORST RECOVERY", "TRIGGER"}
	rows := make([][]string, len(runs))
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for i := range runs {
		r := &runs[i]
		dur := "-"
		if d := r.Duration(); d > 0 {
			dur = report.FormatDuration(d)
		}
		rows[i] = []string{r.RunID, r.Plan, stamp(r.StartTime), dur, string(r.Phase), report.Word(r.Verdict), dash(r.WorstRecovery), dash(string(r.Trigger))}
		for j, c := range rows[i] {
			widths[j] = max(widths[j], len(c))
		}
	}
	var b strings.Builder
	b.Grow(len(runs) * 128)
	line := func(cells []string) {
		for j, c := range cells {
			b.WriteString(c)
			if j < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-len(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	_, _ = io.WriteString(w, b.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
