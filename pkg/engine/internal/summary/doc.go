// Package summary builds a run's report, and so the DrillRun status, from
// the run's state (package runstate) and its probe samples: Summarize is a
// pure function, in the style of Flux's summarize step, called for a live
// view while the run goes and once more at its end. It is the one place
// that decides the run's phase and verdict and every step's, and measures
// every fault's failover and fail-back with the pure functions of package
// slo.
package summary
