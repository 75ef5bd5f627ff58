// Package report is the evidence a drill leaves behind: a versioned model of
// everything measured (report.json), a Markdown summary for people
// (report.md) and JUnit XML for CI systems (junit.xml, one test case per
// objective per fault). Every number in a report can be recomputed from the
// samples and instants it holds. Files are written atomically under
// <dir>/<plan>/<run-id>/.
package report
