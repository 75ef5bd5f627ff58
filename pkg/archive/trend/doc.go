// Package trend follows each fault of a plan across its archived runs and
// flags regressions by one stated rule (Rule): a recovery regressed when it
// took markedly longer than the median of the same fault's previous runs.
// It is pure: entries in, series and flags out. The HTML report, `drill
// reports trend` and the future dashboard share it, so they never disagree.
package trend
