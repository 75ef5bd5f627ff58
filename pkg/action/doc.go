// Package action runs the runbook actions of exec faults and manual
// traffic switches: a command (argv, no shell, its own process group, a
// timeout that kills the whole group) or an HTTP webhook. Values read from
// the environment with fromEnv are Secrets and never appear in output,
// logs or reports.
package action
