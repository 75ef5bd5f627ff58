// Package follow is what drill trigger and drill abort share: the flags
// and client that reach the cluster drill serve runs in, and following a
// DrillRun to its end with the progress lines and exit codes of drill run.
package follow
