// Package reportarchive keeps drill serve's reports in a cluster in the
// report archive (pkg/archive), the same archive drill run --archive
// writes and drill reports reads: a directory, laid out
// <archive>/<plan>/<run-id>/, or an OCI registry.
//
// A DrillRun's report is run <namespace>.<name> of its plan (its planRef,
// or the run itself for an inline plan): run ids are unique in a cluster,
// so every namespace shares one archive, and drill reports list --plan P
// shows the runs of every plan named P. Its report set is report.json,
// report.md, junit.xml, report.html (with the plan's trend read from the
// archive) and SHA256SUMS, stored by archive.Store; status.report.path is
// where it went (a directory, or host/repository:tag@digest). A report set
// the archive cannot take is kept in the keep directory, and the run's
// status says so and points there; Read finds it there too.
//
// The DrillRun runner and reconciler store through it, the DrillPlan
// reconciler prunes through it, and the API backend reads from it.
package reportarchive
