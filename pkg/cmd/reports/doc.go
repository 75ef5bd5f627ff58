// Package reports is `drill reports`: list, show, diff, trend, verify,
// push and prune the runs in a report archive (a directory or an OCI
// registry, see pkg/archive). Results go to stdout as text, JSON or YAML
// (-o); a corrupt or partial report is named on stderr and skipped.
package reports
