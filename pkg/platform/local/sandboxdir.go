package local

import "github.com/firedrill/firedrill/pkg/platform/local/sandboxdir"

// EnvSandbox is set on every child process to the sandbox's directory, so
// that leftovers of a dead sandbox can be found and killed.
const EnvSandbox = sandboxdir.EnvSandbox

// State is what a running sandbox records in its directory.
type State = sandboxdir.State

// SandboxProcess is a live process that belongs to a sandbox.
type SandboxProcess = sandboxdir.SandboxProcess

// ReadState reads the state of the sandbox in dir.
func ReadState(dir string) (State, error) { return sandboxdir.ReadState(dir) }

// KillLeftovers kills the processes of sandboxes under stateDir whose
// owner is gone and removes their stores and node caches, keeping their
// logs. It returns the pids it killed (see package sandboxdir).
func KillLeftovers(stateDir string) ([]int, error) { return sandboxdir.KillLeftovers(stateDir) }

// SandboxProcesses lists the live processes started by any sandbox (they
// carry EnvSandbox in their environment).
func SandboxProcesses() []SandboxProcess { return sandboxdir.SandboxProcesses() }
