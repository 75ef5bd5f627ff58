package report

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// FormatDuration prints a duration for people: milliseconds below a second,
// hundredths of a second below ten seconds, tenths above.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// OptDuration prints an optional duration, "-" when nil.
func OptDuration(d *metav1.Duration) string {
	if d == nil {
		return "-"
	}
	return FormatDuration(d.Duration)
}

// Since prints an optional instant relative to from ("+1.21s"), "never"
// when nil.
func Since(t *metav1.MicroTime, from time.Time) string {
	if t == nil {
		return "never"
	}
	d := t.Sub(from)
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	return "+" + FormatDuration(d)
}

// Word is the verdict as the table and report.md print it.
func Word(v v1alpha1.Verdict) string {
	switch v {
	case v1alpha1.VerdictPass:
		return "PASS"
	case v1alpha1.VerdictFail:
		return "FAIL"
	case v1alpha1.VerdictNotJudged:
		return "NOT JUDGED"
	}
	return "-"
}

// Recoveries are a fault's measured recoveries, failover first, each with
// the name its rows and test cases carry.
func Recoveries(step string, f *v1alpha1.FaultResult) []NamedRecovery {
	var out []NamedRecovery
	if f.Failover != nil {
		out = append(out, NamedRecovery{Name: step, Phase: "failover", Recovery: f.Failover})
	}
	if f.Failback != nil {
		out = append(out, NamedRecovery{Name: step + " (fail-back)", Phase: "fail-back", Recovery: f.Failback})
	}
	return out
}

// NamedRecovery is one recovery of a fault.
type NamedRecovery struct {
	// Name is the step name, with " (fail-back)" for a fail-back.
	Name string
	// Phase is failover or fail-back.
	Phase string
	// Recovery is the measurement.
	Recovery *v1alpha1.Recovery
}

// recoveryWord is a recovery time for the table: "not recovered" when the
// recovery was never reached.
func recoveryWord(r *v1alpha1.Recovery) string {
	if !r.Recovered {
		return "not recovered"
	}
	return OptDuration(r.RecoveryTime)
}

// objectiveOf is the RTO objective a recovery was judged against, "-"
// when none.
func objectiveOf(r *v1alpha1.Recovery) string {
	for _, v := range r.Verdicts {
		if v.Objective == "rto" || v.Objective == "failbackRTO" {
			if d, err := time.ParseDuration(v.Target); err == nil {
				return FormatDuration(d)
			}
			return v.Target
		}
	}
	return "-"
}
