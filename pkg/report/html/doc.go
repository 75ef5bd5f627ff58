// Package html renders a drill report as report.html: one self-contained
// page for auditors, with no external asset and no JavaScript. Its charts
// are inline SVG drawn with gonum/plot from the report's own series and
// instants: per fault a timeline (success rate, p50 and p99 per second, the
// failover and fail-back windows shaded, the six recovery instants marked,
// capacity below), the recovery time against its objective, and the plan's
// trend over earlier runs read from the archive (see pkg/archive/trend),
// with regressions flagged by a rule the page states.
//
// Render is a pure function of the report and the trend, so the page can
// be rendered at the end of a run and again later from the archive.
package html
