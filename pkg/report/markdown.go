package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// Markdown renders the report for people. Every instant it shows is read
// from the run's results, relative to the fault's injected instant.
func Markdown(r *Report) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Drill %s — %s\n\n", r.Plan.Name, r.Phase)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| run | `%s` |\n| verdict | **%s** |\n| platform | %s |\n| endpoint | %s |\n", r.RunID, r.Verdict, r.Platform, r.Endpoint)
	if r.StartTime != nil {
		fmt.Fprintf(&b, "| started | %s |\n", r.StartTime.UTC().Format(time.RFC3339))
	}
	if r.StartTime != nil && r.CompletionTime != nil {
		fmt.Fprintf(&b, "| finished | %s (%s) |\n", r.CompletionTime.UTC().Format(time.RFC3339), FormatDuration(r.CompletionTime.Sub(r.StartTime.Time)))
	}
	fmt.Fprintf(&b, "| requests | %d |\n| plan hash | `%s` |\n| firedrill | %s (%s) |\n", r.Samples, r.Plan.Hash, r.Tool.Version, r.Tool.Commit)
	if r.Message != "" {
		fmt.Fprintf(&b, "\n> %s\n", r.Message)
	}
	b.WriteString("\n## Faults\n\n```\n")
	b.WriteString(Table(r))
	b.WriteString("```\n")
	for _, s := range r.Faults() {
		writeFault(&b, s.Name, s.Fault)
	}
	b.WriteString("\n## Checks\n\n| check | objective | target | measured | verdict |\n|---|---|---|---|---|\n")
	for _, c := range []struct {
		name string
		c    *v1alpha1.CheckResult
	}{{"baseline", r.Baseline}, {"final", r.Final}, {"whole drill", r.Overall}} {
		if c.c == nil {
			continue
		}
		for _, v := range c.c.Verdicts {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.name, v.Objective, v.Target, v.Measured, Word(v.Verdict))
		}
	}
	if len(r.Cleanup) > 0 {
		b.WriteString("\n## Cleanup of earlier runs\n\n")
		for _, c := range r.Cleanup {
			fmt.Fprintf(&b, "- %s\n", c)
		}
	}
	return []byte(b.String())
}

func writeFault(b *strings.Builder, name string, f *v1alpha1.FaultResult) {
	fmt.Fprintf(b, "\n### %s (%s)\n\n", name, f.Type)
	var names []string
	for _, t := range f.Targets {
		names = append(names, t.Kind+" "+t.Name)
	}
	fmt.Fprintf(b, "Targets: %s\n\n", strings.Join(names, ", "))
	if f.Error != "" {
		fmt.Fprintf(b, "Error: %s\n\n", f.Error)
	}
	if f.Injected == nil {
		b.WriteString("The fault was not injected.\n")
		return
	}
	inj := f.Injected.Time
	recs := Recoveries(name, f)
	b.WriteString("| instant |")
	sep := "|---|"
	for _, nr := range recs {
		fmt.Fprintf(b, " %s |", nr.Phase)
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	row := func(label string, pick func(*v1alpha1.Recovery) string) {
		b.WriteString("| " + label + " |")
		for _, nr := range recs {
			b.WriteString(" " + pick(nr.Recovery) + " |")
		}
		b.WriteString("\n")
	}
	row("start", func(r *v1alpha1.Recovery) string { return Since(r.Start, inj) })
	for _, in := range []struct {
		name string
		pick func(v1alpha1.RecoveryInstants) string
	}{
		{"impact", func(i v1alpha1.RecoveryInstants) string { return Since(i.Impact, inj) }},
		{"replaced", func(i v1alpha1.RecoveryInstants) string { return Since(i.Replaced, inj) }},
		{"ready", func(i v1alpha1.RecoveryInstants) string { return Since(i.Ready, inj) }},
		{"serving", func(i v1alpha1.RecoveryInstants) string { return Since(i.Serving, inj) }},
		{"recovered", func(i v1alpha1.RecoveryInstants) string { return Since(i.Recovered, inj) }},
	} {
		row(in.name, func(r *v1alpha1.Recovery) string { return in.pick(r.Instants) })
	}
	row("end of observation", func(r *v1alpha1.Recovery) string { return Since(r.End, inj) })
	fmt.Fprintf(b, "\nInstants are since injected (%s)", inj.UTC().Format("15:04:05.000"))
	if f.Reverted != nil {
		fmt.Fprintf(b, "; reverted at %s", Since(f.Reverted, inj))
	} else {
		b.WriteString("; nothing was reverted")
	}
	b.WriteString(".\n\n| recovery | objective | target | measured | verdict | reason |\n|---|---|---|---|---|---|\n")
	for _, nr := range recs {
		for _, v := range nr.Recovery.Verdicts {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", nr.Phase, v.Objective, v.Target, v.Measured, Word(v.Verdict), v.Reason)
		}
	}
	var notes []string
	for _, nr := range recs {
		for _, n := range nr.Recovery.Notes {
			notes = append(notes, nr.Phase+": "+n)
		}
	}
	notes = append(notes, f.Notes...)
	for _, n := range notes {
		fmt.Fprintf(b, "\n- %s", n)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	for _, a := range f.Actions {
		fmt.Fprintf(b, "\n- %s action ran from %s to %s", a.Phase, Since(a.StartTime, inj), Since(a.CompletionTime, inj))
		if a.Error != "" {
			fmt.Fprintf(b, " and failed: %s", a.Error)
		}
	}
	if len(f.Actions) > 0 {
		b.WriteString("\n")
	}
}
