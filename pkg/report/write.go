package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/firedrill/firedrill/pkg/atomicfile"
	"github.com/firedrill/firedrill/pkg/slo"
)

// Files written for every run.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	JUnitFile    = "junit.xml"
)

// Dir is where a run's report lives under root.
func Dir(root string, r *Report) string {
	return filepath.Join(root, r.Plan.Name, r.RunID)
}

// Write writes every format of r atomically under root/<plan>/<run-id>/ and
// returns that directory. report.json is written last, so its presence
// means the report is complete.
func Write(root string, r *Report) (string, error) {
	dir := Dir(root, r)
	md := Markdown(r)
	junit, err := JUnit(r)
	if err != nil {
		return "", err
	}
	js, err := JSON(r)
	if err != nil {
		return "", err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{MarkdownFile, md}, {JUnitFile, junit}, {JSONFile, js}} {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return "", fmt.Errorf("writing report: %w", err)
		}
	}
	return dir, nil
}

// JSON renders the report as indented JSON.
func JSON(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	return buf.Bytes(), nil
}

// Read decodes a report.json.
func Read(data []byte) (*Report, error) {
	r := &Report{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decoding report: %w", err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("report schema %q is not %q", r.Schema, SchemaVersion)
	}
	return r, nil
}

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
func OptDuration(d *time.Duration) string {
	if d == nil {
		return "-"
	}
	return FormatDuration(*d)
}

func passWord(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// Table renders the per-fault summary table shown at the end of drill run
// and in report.md.
func Table(r *Report) string {
	var b strings.Builder
	rows := [][]string{{"FAULT", "TYPE", "RECOVERY", "RTO", "SERVICE", "CAPACITY", "AVAILABILITY", "P99", "VERDICT"}}
	rto := "-"
	if r.Plan.Spec.Objectives.RTO != nil {
		rto = FormatDuration(r.Plan.Spec.Objectives.RTO.Duration)
	}
	for _, s := range r.Faults() {
		f := s.Fault
		res := f.Result
		verdict := passWord(res.Pass)
		if f.Error != "" {
			verdict = "ERROR"
		}
		rows = append(rows, []string{
			s.Name, f.Type, OptDuration(res.RecoveryTime), rto, OptDuration(res.ServiceRTO), OptDuration(res.CapacityRTO),
			fmt.Sprintf("%.2f%%", f.Window.Availability), FormatDuration(f.Window.P99), verdict,
		})
	}
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

// Markdown renders the report for people.
func Markdown(r *Report) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Drill %s — %s\n\n", r.Plan.Name, r.Phase)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| run | `%s` |\n| verdict | **%s** |\n| platform | %s |\n| endpoint | %s |\n", r.RunID, r.Verdict, r.Platform, r.Endpoint)
	fmt.Fprintf(&b, "| started | %s |\n| finished | %s (%s) |\n", r.Started.UTC().Format(time.RFC3339), r.Finished.UTC().Format(time.RFC3339), FormatDuration(r.Finished.Sub(r.Started)))
	fmt.Fprintf(&b, "| requests | %d |\n| plan hash | `%s` |\n| firedrill | %s (%s) |\n", r.Samples, r.Plan.Hash, r.Tool.Version, r.Tool.Commit)
	if r.Message != "" {
		fmt.Fprintf(&b, "\n> %s\n", r.Message)
	}
	b.WriteString("\n## Faults\n\n```\n")
	b.WriteString(Table(r))
	b.WriteString("```\n")
	for _, s := range r.Faults() {
		f := s.Fault
		fmt.Fprintf(&b, "\n### %s (%s)\n\n", s.Name, f.Type)
		var names []string
		for _, t := range f.Targets {
			names = append(names, t.Kind+" "+t.Name)
		}
		fmt.Fprintf(&b, "Targets: %s\n\n", strings.Join(names, ", "))
		if f.Error != "" {
			fmt.Fprintf(&b, "Error: %s\n\n", f.Error)
		}
		b.WriteString("| instant | at (since injected) |\n|---|---|\n")
		in := f.Result.Instants
		for _, row := range []struct {
			name string
			t    *time.Time
		}{{"injected", &in.Injected}, {"impact", in.Impact}, {"replaced", in.Replaced}, {"ready", in.Ready}, {"serving", in.Serving}, {"recovered", in.Recovered}, {"reverted", f.Reverted}} {
			at := "never"
			if row.t != nil {
				at = "+" + FormatDuration(row.t.Sub(in.Injected))
			}
			fmt.Fprintf(&b, "| %s | %s |\n", row.name, at)
		}
		b.WriteString("\n| objective | target | measured | verdict |\n|---|---|---|---|\n")
		for _, v := range f.Result.Verdicts {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.Objective, v.Target, v.Measured, passWord(v.Pass))
		}
		if f.AfterRevert != nil {
			fmt.Fprintf(&b, "\nAfter the revert: recovered %v, service RTO %s.\n", f.AfterRevert.Recovered, OptDuration(f.AfterRevert.ServiceRTO))
		}
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "\n- %s", n)
		}
		if len(f.Notes) > 0 {
			b.WriteString("\n")
		}
		for _, a := range f.Actions {
			fmt.Fprintf(&b, "\n- %s action took %s", a.Phase, FormatDuration(a.Duration))
			if a.Error != "" {
				fmt.Fprintf(&b, " and failed: %s", a.Error)
			}
		}
		if len(f.Actions) > 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString("\n## Checks\n\n| check | objective | target | measured | verdict |\n|---|---|---|---|---|\n")
	for _, c := range []struct {
		name string
		c    *Check
	}{{"baseline", r.Baseline}, {"final", r.Final}, {"whole drill", &r.Overall}} {
		if c.c == nil {
			continue
		}
		for _, v := range c.c.Verdicts {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.name, v.Objective, v.Target, v.Measured, passWord(v.Pass))
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

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders one test case per objective per fault, plus the steady
// state checks, for CI systems.
func JUnit(r *Report) ([]byte, error) {
	suite := junitSuite{Name: r.Plan.Name, Timestamp: r.Started.UTC().Format(time.RFC3339)}
	add := func(class string, v []slo.Verdict) {
		for _, x := range v {
			c := junitCase{Name: x.Objective, Classname: r.Plan.Name + "." + class}
			if !x.Pass {
				c.Failure = &junitFailure{Message: fmt.Sprintf("%s: measured %s, target %s", x.Objective, x.Measured, x.Target), Text: x.Reason}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
	}
	if r.Baseline != nil {
		add("baseline", r.Baseline.Verdicts)
	}
	for _, s := range r.Faults() {
		if s.Fault.Error != "" {
			suite.Cases = append(suite.Cases, junitCase{Name: "inject-and-revert", Classname: r.Plan.Name + "." + s.Name,
				Error: &junitFailure{Message: s.Fault.Error}})
			suite.Errors++
		}
		add(s.Name, s.Fault.Result.Verdicts)
	}
	if r.Final != nil {
		add("final", r.Final.Verdicts)
	}
	add("drill", r.Overall.Verdicts)
	if r.Phase == "Aborted" || r.Phase == "Error" {
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: r.Plan.Name, Error: &junitFailure{Message: string(r.Phase) + ": " + r.Message}})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "firedrill", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: fmt.Sprintf("%.3f", r.Finished.Sub(r.Started).Seconds()), Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
