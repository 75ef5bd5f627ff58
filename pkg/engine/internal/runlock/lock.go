package runlock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/firedrill/firedrill/pkg/journal"
	"github.com/firedrill/firedrill/pkg/plan"
)

// Lock is held while a run of a plan is active against a target. It is
// an flock(2) on a file under the journal directory, so it is held by a
// live process only: a run that died never blocks the next one, and two
// runs in one process (drill serve) exclude each other too.
type Lock struct {
	f *os.File
}

// lockHolder is what a lock file says about its holder.
type lockHolder struct {
	RunID string        `json:"runID"`
	Owner journal.Owner `json:"owner"`
}

// targetKey identifies what a plan drills: the platform and its target
// (cluster context, namespace, sandbox, endpoint).
func targetKey(p *plan.Plan, platformName string) string {
	spec := p.Spec
	key, _ := json.Marshal(struct {
		Platform string `json:"platform"`
		Target   any    `json:"target"`
		Endpoint string `json:"endpoint"`
	}{platformName, spec.Target, spec.System.Endpoint}) // plain data: never fails
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// Acquire takes the lock of p's target for runID, or says which run
// holds it.
func Acquire(journalDir string, p *plan.Plan, platformName, runID string) (*Lock, error) {
	dir := filepath.Join(journalDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the run lock directory: %w", err)
	}
	path := filepath.Join(dir, p.Name+"-"+targetKey(p, platformName)+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // our own state directory.
	if err != nil {
		return nil, fmt.Errorf("opening the run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("plan %s is already running against the same target as run %s (pid %d on %s); "+
				"wait for it to finish or abort it, or set spec.safety.allowConcurrentRuns to run both",
				p.Name, holder.RunID, holder.Owner.PID, holder.Owner.Host)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	data, _ := json.Marshal(lockHolder{RunID: runID, Owner: journal.Self()}) // plain data: never fails
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(data, 0)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("writing the run lock: %w", err)
		}
	}
	return &Lock{f: f}, nil
}

func readHolder(f *os.File) lockHolder {
	var h lockHolder
	data := make([]byte, 4096)
	n, _ := f.ReadAt(data, 0)
	_ = json.Unmarshal([]byte(strings.TrimSpace(string(data[:n]))), &h)
	if h.RunID == "" {
		h.RunID = "(unknown)"
	}
	return h
}

// Release drops the lock. The file stays: unlinking it would let a third
// run lock a new file while a second still holds the old one.
func (l *Lock) Release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
