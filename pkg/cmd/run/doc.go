// Package run implements `drill run`: load a plan, revert what crashed runs
// left behind, run the drill with live progress, print the per-fault table
// and write the report.
package run
