// Package archivetest provides test inputs for the archive and the HTML
// report: a real report and the index of six real runs of the
// quickstart drill (recorded from `drill run drills/quickstart.yaml` in the
// local sandbox), and synthetic drills of any length whose every number
// is computed by pkg/slo from generated probe samples, as the engine does.
package archivetest
