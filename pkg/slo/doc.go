// Package slo turns recorded probe samples, capacity readings and model
// observations into the numbers a drill reports: the recovery instants of a
// fault (injected, impact, replaced, ready, serving, recovered), its service,
// capacity and overall recovery times, its RPO, window statistics and the
// verdicts against a plan's objectives.
//
// Everything here is a pure function of its inputs: nothing reads a clock,
// touches the network or keeps state, so every number in an archived report
// can be recomputed from the samples stored next to it. Inputs are never
// modified; functions sort copies when they need order.
//
// The definitions, and the reasons for them, are recorded in
// docs/design/20261202-recovery-measurement.md. In short:
//
//   - a sample has failed when it carries an error class or a status outside
//     200–399; it is good when it has not failed and is no slower than
//     Criteria.LatencyP99;
//   - percentiles are exact nearest-rank percentiles over every sample of a
//     window, failed or not (a timeout counts at its full timeout);
//   - recovered is the send time of the first good sample after the impact
//     from which a window of Criteria.For is fully observed, keeps capacity
//     back throughout, and whose running success rate and running p99 meet
//     the criteria at every sample of the window.
package slo
