// Package history keeps drill serve's history on one machine in the report
// archive (pkg/archive): a directory, <archive>/<plan>/<run-id>/, or an OCI
// registry, the same archive drill run --archive writes and drill reports
// reads. It implements plansdir.History.
//
// Each finished run is stored with archive.Store: report.json, report.md,
// junit.xml, report.html (with the plan's trend read from the archive)
// and SHA256SUMS. When the archive cannot take a report set even after its
// retries, Store keeps it in the keep directory (<state-dir>/reports) and
// Put fails with the archive.KeptError that says where; the runner tries
// again later, so the served history stays the archive's.
//
// Listing never parses a report: the archive's index is held in memory,
// changed by Put and Delete, and read again every Refresh (a directory
// archive; drill run and drill reports prune may write it too) or only at
// Open (a registry, where a listing costs requests per run).
package history
