// Package report is the evidence a drill leaves behind: a versioned model of
// everything measured (report.json, schema firedrill.dev/report/v2), a
// Markdown summary for people (report.md), JUnit XML for CI systems
// (junit.xml, one test case per objective per recovery) and the table
// drill run prints. The results in a report are v1alpha1.RunResult, the
// same type DrillRun.status carries; the engine builds both with one pure
// function. Every number can be recomputed from the series and instants it
// holds. Files are written atomically under <dir>/<plan>/<run-id>/.
package report
