package reports

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/report"
)

func newDiff(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff RUN1 RUN2",
		Short: "Compare two runs fault by fault",
		Long: `Compare two archived runs side by side: for each fault (matched by step
name) and each of its recoveries (failover, fail-back), the recovery time
in both runs and the change, the objective, and the availability and p99
over the recovery's window. Read from the index; no report is parsed.`,
		Example: `  drill reports diff quickstart-20261207-130540-297-f984 quickstart-20261207-131044-957-b88f`,
		Args:    cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			e, err := newEnv(c, v)
			if err != nil {
				return err
			}
			return runDiff(c.Context(), e, args[0], args[1])
		},
	}
	output.AddFlag(cmd.Flags())
	return cmd
}

// side is one run's numbers for one recovery; nil fields were not
// measured.
type side struct {
	Recovered    bool             `json:"recovered"`
	RecoveryTime string           `json:"recoveryTime,omitempty"`
	Objective    string           `json:"objective,omitempty"`
	Availability v1alpha1.Percent `json:"availability,omitempty"`
	P99          string           `json:"p99,omitempty"`
	Verdict      v1alpha1.Verdict `json:"verdict,omitempty"`

	seconds float64
}

// diffRow is one recovery of one fault in both runs.
type diffRow struct {
	Fault string `json:"fault"`
	Type  string `json:"type"`
	Phase string `json:"phase"`
	A     *side  `json:"a,omitempty"`
	B     *side  `json:"b,omitempty"`
	// Change is B's recovery time relative to A's, in percent; absent
	// when it is not defined.
	Change *float64 `json:"change,omitempty"`
}

type diffResult struct {
	A    index.Entry `json:"a"`
	B    index.Entry `json:"b"`
	Rows []diffRow   `json:"faults"`
}

func sideOf(f *index.Fault, phase string) *side {
	r := f.Recovery(phase)
	if r == nil {
		return nil
	}
	s := &side{Recovered: r.Recovered, Availability: r.Availability, P99: report.FormatDuration(r.P99.Duration), Verdict: r.Verdict}
	if r.RecoveryTime != nil && r.Recovered {
		s.RecoveryTime = report.FormatDuration(r.RecoveryTime.Duration)
		s.seconds = r.RecoveryTime.Seconds()
	}
	if r.Objective != nil {
		s.Objective = report.FormatDuration(r.Objective.Duration)
	}
	return s
}

// compare pairs the recoveries of a and b by step name and phase, in a's
// step order, then b's steps a lacks.
func compare(a, b index.Entry) []diffRow {
	var rows []diffRow
	seen := map[string]bool{}
	find := func(e index.Entry, name string) *index.Fault {
		for i := range e.Faults {
			if e.Faults[i].Name == name {
				return &e.Faults[i]
			}
		}
		return nil
	}
	for _, e := range []index.Entry{a, b} {
		for i := range e.Faults {
			name := e.Faults[i].Name
			if seen[name] {
				continue
			}
			seen[name] = true
			fa, fb := find(a, name), find(b, name)
			for _, phase := range []string{index.Failover, index.Failback} {
				row := diffRow{Fault: name, Type: e.Faults[i].Type, Phase: phase}
				if fa != nil {
					row.A = sideOf(fa, phase)
				}
				if fb != nil {
					row.B = sideOf(fb, phase)
				}
				if row.A == nil && row.B == nil {
					continue
				}
				if row.A != nil && row.B != nil && row.A.RecoveryTime != "" && row.B.RecoveryTime != "" && row.A.seconds > 0 {
					c := math.Round(1000*(row.B.seconds-row.A.seconds)/row.A.seconds) / 10
					row.Change = &c
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

func runDiff(ctx context.Context, e *env, run1, run2 string) error {
	idx, err := e.index(ctx)
	if err != nil {
		return err
	}
	a, err := idx.Find(run1)
	if err != nil {
		return err
	}
	b, err := idx.Find(run2)
	if err != nil {
		return err
	}
	res := diffResult{A: a, B: b, Rows: compare(a, b)}
	return output.Write(e.out, e.format, res, func(w io.Writer) error {
		fmt.Fprintf(w, "A  %s  %s  %s, %s\n", a.Key(), stamp(a.StartTime), a.Phase, report.Word(a.Verdict))
		fmt.Fprintf(w, "B  %s  %s  %s, %s\n", b.Key(), stamp(b.StartTime), b.Phase, report.Word(b.Verdict))
		if a.PlanHash != "" && b.PlanHash != "" && a.PlanHash != b.PlanHash {
			fmt.Fprintln(w, "the two runs ran different versions of the plan")
		}
		fmt.Fprintln(w)
		rows := [][]string{{"FAULT", "TYPE", "RECOVERY A", "RECOVERY B", "CHANGE", "OBJECTIVE", "AVAILABILITY A", "AVAILABILITY B", "P99 A", "P99 B"}}
		for _, r := range res.Rows {
			name := r.Fault
			if r.Phase == index.Failback {
				name += " (fail-back)"
			}
			change := "-"
			if r.Change != nil {
				change = fmt.Sprintf("%+.1f%%", *r.Change)
			}
			rows = append(rows, []string{name, r.Type, recoveryCell(r.A), recoveryCell(r.B), change,
				objectiveCell(r.A, r.B),
				cell(r.A, func(s *side) string { return pct(s.Availability) }), cell(r.B, func(s *side) string { return pct(s.Availability) }),
				cell(r.A, func(s *side) string { return s.P99 }), cell(r.B, func(s *side) string { return s.P99 })})
		}
		fmt.Fprint(w, columns(rows))
		return nil
	})
}

// objectiveCell is the objective both recoveries were judged against, or
// "A → B" when it changed.
func objectiveCell(a, b *side) string {
	oa, ob := cell(a, func(s *side) string { return s.Objective }), cell(b, func(s *side) string { return s.Objective })
	if oa == ob || b == nil {
		return oa
	}
	if a == nil {
		return ob
	}
	return oa + " → " + ob
}

func recoveryCell(s *side) string {
	switch {
	case s == nil:
		return "-"
	case s.RecoveryTime == "":
		return "not recovered"
	}
	return s.RecoveryTime
}

func cell(s *side, pick func(*side) string) string {
	if s == nil {
		return "-"
	}
	return dash(pick(s))
}

func pct(p v1alpha1.Percent) string {
	if p == "" {
		return ""
	}
	return string(p) + "%"
}

// columns aligns rows into space-separated columns.
func columns(rows [][]string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
