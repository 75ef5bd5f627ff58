// Package reportdir keeps drill serve's history in a report directory, the
// layout drill run writes: <dir>/<plan>/<run-id>/report.json, report.md
// and junit.xml. An index (<dir>/.serve-index.json, rewritten atomically
// on every change) lists the runs without reading their reports; opening
// the directory brings it up to date with the run directories there, so
// runs written by drill run, or a lost index, are picked up.
//
// It implements plansdir.History until the report archive replaces it.
package reportdir
