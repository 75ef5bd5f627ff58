// Package archive is where report sets live: a directory (the default,
// laid out as <plan>/<run-id>/, see pkg/archive/local) or an OCI registry
// (oci://host/repository, one artifact per run, see pkg/archive/oci).
//
// A run's report set is report.json, report.md, junit.xml, report.html and
// a SHA256SUMS manifest (Files). Store archives it at the end of a run,
// with report.html showing the plan's trend read from the same archive; if
// the archive fails even after retries, the set is kept in a local
// directory (the state directory) and the error says where. Every archive
// keeps an index (pkg/archive/index) so listing, diffing and trending runs
// never parse a report.
package archive
