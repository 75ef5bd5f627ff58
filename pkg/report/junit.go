package report

import (
	"encoding/xml"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

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

// JUnit renders one test case per objective per recovery (a fault's
// failover as <plan>.<step>, its fail-back as <plan>.<step>.fail-back),
// plus the steady state checks, for CI systems. An aborted or broken run
// adds an error case.
func JUnit(r *Report) ([]byte, error) {
	suite := junitSuite{Name: r.Plan.Name}
	if r.StartTime != nil {
		suite.Timestamp = r.StartTime.UTC().Format(time.RFC3339)
	}
	add := func(class string, v []v1alpha1.ObjectiveVerdict) {
		for _, x := range v {
			c := junitCase{Name: x.Objective, Classname: r.Plan.Name + "." + class}
			if x.Verdict != v1alpha1.VerdictPass {
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
		if s.Fault.Failover != nil {
			add(s.Name, s.Fault.Failover.Verdicts)
		}
		if s.Fault.Failback != nil {
			add(s.Name+".fail-back", s.Fault.Failback.Verdicts)
		}
	}
	if r.Final != nil {
		add("final", r.Final.Verdicts)
	}
	if r.Overall != nil {
		add("drill", r.Overall.Verdicts)
	}
	if r.Phase == v1alpha1.RunAborted || r.Phase == v1alpha1.RunError || r.Phase == v1alpha1.RunInterrupted {
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: r.Plan.Name, Error: &junitFailure{Message: string(r.Phase) + ": " + r.Message}})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	elapsed := 0.0
	if r.StartTime != nil && r.CompletionTime != nil {
		elapsed = r.CompletionTime.Sub(r.StartTime.Time).Seconds()
	}
	doc := junitSuites{Name: "firedrill", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: fmt.Sprintf("%.3f", elapsed), Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
