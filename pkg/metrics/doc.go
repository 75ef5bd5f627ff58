// Package metrics holds the firedrill_ Prometheus metrics of drills: runs
// by plan, phase and verdict, run durations, every fault's recovery time,
// service RTO and capacity RTO (a histogram and the last value, failover
// and fail-back apart), the last objective verdicts, the last and next run
// timestamps, active faults, aborts and reverts that failed.
//
// The metrics are fed from reports (pkg/report), live or final, and from
// scheduling state, through a small API that drill serve's runners call
// and that drill run --pushgateway uses for a one-shot run:
//
//	m, err := metrics.New(reg)          // reg: the registry /metrics serves
//	m.SetPlan(name, &spec, next)        // on every schedule decision
//	m.Restore(rep)                      // at start: the last run's values from the archive
//	m.RunUpdated(snapshot)              // while a run goes (engine.Run.Snapshot)
//	m.RunFinished(rep)                  // once, with the final report
//	m.DeletePlan(name)                  // the plan is gone
//
// Labels are bounded by the plans: plan, step, type (the fault type),
// recovery (failover or failback), window, objective, phase, verdict and
// cause. Run ids, targets and pod names never become labels.
//
// Counters and histograms count what this process saw and restart at zero
// with it (rate and increase handle that); the last values are restored
// from the archive with Restore, so a restart of drill serve loses no
// verdict. docs/metrics.md lists every metric.
package metrics
