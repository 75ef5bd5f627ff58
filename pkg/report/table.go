package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Table renders the per-fault summary table shown at the end of drill run
// and in report.md: one row per recovery, the failover under the step's
// name and the fail-back as "<step> (fail-back)". AVAILABILITY and P99
// are over the recovery's own window.
func Table(r *Report) string {
	rows := [][]string{{"FAULT", "TYPE", "RECOVERY", "RTO", "SERVICE", "CAPACITY", "AVAILABILITY", "P99", "VERDICT"}}
	for _, s := range r.Faults() {
		f := s.Fault
		recs := Recoveries(s.Name, f)
		if len(recs) == 0 {
			rows = append(rows, []string{s.Name, f.Type, "-", "-", "-", "-", "-", "-", faultWord(f, "")})
			continue
		}
		for _, nr := range recs {
			rec := nr.Recovery
			rows = append(rows, []string{
				nr.Name, f.Type, recoveryWord(rec), objectiveOf(rec), OptDuration(rec.ServiceRTO), OptDuration(rec.CapacityRTO),
				pct(rec.Window.Availability), FormatDuration(rec.Window.P99.Duration), faultWord(f, rec.Verdict),
			})
		}
	}
	return columns(rows)
}

// faultWord is a row's verdict: ERROR when the fault could not be
// injected or reverted.
func faultWord(f *v1alpha1.FaultResult, v v1alpha1.Verdict) string {
	if f.Error != "" {
		return "ERROR"
	}
	return Word(v)
}

func pct(p v1alpha1.Percent) string {
	if p == "" {
		return "-"
	}
	var v float64
	if _, err := fmt.Sscanf(string(p), "%g", &v); err != nil {
		return string(p) + "%"
	}
	// Truncated, as the percentage itself is: 99.999 must not print as
	// 100.00.
	return fmt.Sprintf("%.2f%%", math.Floor(v*100+1e-6)/100)
}

// columns aligns rows into space-separated columns.
func columns(rows [][]string) string {
	var b strings.Builder
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == len(row)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
