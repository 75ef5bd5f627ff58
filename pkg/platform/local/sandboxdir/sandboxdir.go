package sandboxdir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/firedrill/firedrill/pkg/atomicfile"
)

// EnvSandbox is set on every child process to the sandbox's directory, so
// that leftovers of a dead sandbox can be found and killed.
const EnvSandbox = "FIREDRILL_SANDBOX"

// StateFile is the sandbox's state in its directory, read by `drill
// sandbox status`.
const StateFile = "sandbox.json"

// State is what a running sandbox records in its directory.
type State struct {
	// ID of the sandbox.
	ID string `json:"id"`
	// Pid of the process that runs it.
	Pid int `json:"pid"`
	// Ready is true once Start finished.
	Ready bool `json:"ready"`
	// Endpoint is the front door's URL.
	Endpoint string `json:"endpoint,omitempty"`
	// Control is the front door's control API.
	Control string `json:"control,omitempty"`
	// Stores maps a region to its store address.
	Stores map[string]string `json:"stores,omitempty"`
	// Model is the served model version.
	Model string `json:"model,omitempty"`
	// Logs is the directory of the processes' logs.
	Logs string `json:"logs"`
}

// WriteState records st in dir, atomically.
func WriteState(dir string, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the sandbox state: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, StateFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the sandbox state: %w", err)
	}
	return nil
}

// ReadState reads the state of the sandbox in dir.
func ReadState(dir string) (State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile)) //nolint:gosec // our own state.
	if err != nil {
		return State{}, fmt.Errorf("reading the sandbox state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, fmt.Errorf("decoding the sandbox state %s: %w", dir, err)
	}
	return st, nil
}

// KillLeftovers kills the processes of sandboxes under stateDir whose owner
// is gone (a drill killed with SIGKILL normally takes them along through
// the parent-death signal; this is the belt to those braces) and removes
// their stores and node caches, keeping their logs. It returns the pids it
// killed.
func KillLeftovers(stateDir string) ([]int, error) {
	root := filepath.Join(stateDir, "sandbox")
	dirs, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	dead := map[string]bool{}
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		st, err := ReadState(dir)
		if err != nil {
			continue // stopped cleanly: no state file
		}
		if st.Pid > 0 && syscall.Kill(st.Pid, 0) == nil {
			continue // its owner is alive
		}
		dead[dir] = true
	}
	if len(dead) == 0 {
		return nil, nil
	}
	var killed []int
	for _, pid := range SandboxProcesses() {
		if dead[pid.Sandbox] {
			_ = syscall.Kill(-pid.Pid, syscall.SIGKILL)
			_ = syscall.Kill(pid.Pid, syscall.SIGKILL)
			killed = append(killed, pid.Pid)
		}
	}
	for dir := range dead {
		// Keep the logs of the dead sandbox; drop its stores and caches.
		_ = os.RemoveAll(filepath.Join(dir, "nodes"))
		_ = os.RemoveAll(filepath.Join(dir, "stores"))
		_ = os.Remove(filepath.Join(dir, StateFile))
	}
	return killed, nil
}

// SandboxProcess is a live process that belongs to a sandbox.
type SandboxProcess struct {
	Pid     int
	Sandbox string
}

// SandboxProcesses lists the live processes started by any sandbox (they
// carry FIREDRILL_SANDBOX in their environment).
func SandboxProcesses() []SandboxProcess {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []SandboxProcess
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, EnvSandbox+"="); ok {
				out = append(out, SandboxProcess{Pid: pid, Sandbox: v})
				break
			}
		}
	}
	return out
}
