// Package sandboxdir is what a sandbox records in its directory
// (StateDir/sandbox/<id>) and how the sandboxes of dead drills are cleaned
// up.
//
// A running sandbox writes its State (owner pid, endpoints, stores, model,
// logs) there; drill sandbox status reads it. Every child process carries
// EnvSandbox, the sandbox's directory, in its environment, so
// KillLeftovers can find and kill the processes of a sandbox whose owner
// is gone, and remove its stores and node caches while keeping its logs.
package sandboxdir
