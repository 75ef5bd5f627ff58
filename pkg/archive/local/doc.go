// Package local keeps report sets in a directory: <root>/<plan>/<run-id>/
// holds report.json, report.md, junit.xml, report.html and SHA256SUMS, and
// <root>/index.json is the index of every run (see pkg/archive/index).
//
// A report set is written into a hidden temporary directory and renamed
// into place, so a run directory is either complete or absent; the index is
// rewritten atomically under an flock(2) on <root>/.index.lock, so
// concurrent runs never lose each other's entries. The index is a cache of
// the run directories: a plan directory changed after the index was
// written (a run archived by a process that died before it updated the
// index, a run deleted by hand) is rescanned, so the index never hides a
// run. A run directory that is corrupt or partial is named as an
// index.Problem and skipped.
package local
