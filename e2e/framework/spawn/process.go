package spawn

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one running component of the control plane.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	log     *os.File
	Done    chan struct{} // closed when the process has exited and been reaped
	Err     error         // exit status; read after done is closed
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

// Stop ends the process group: SIGTERM, then SIGKILL after grace. It returns
// once the process has been reaped. Children the component may have started
// share its process group and die with it.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	pgid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.Done
	}
	// The leader is gone; make sure nothing else in its group survives.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// RSS returns the resident set size of the process in bytes.
func (p *Process) RSS() (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("reading status of %s: %w", p.Name, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing VmRSS of %s: %w", p.Name, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS for %s", p.Name)
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	return Tail(p.LogPath, n)
}

// Tail returns the last n lines of the file at path.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Spawner starts processes from one OS thread that stays alive until Close.
//
// The child processes are started with Pdeathsig so that they die with the
// test binary even when it is killed with SIGKILL. Linux delivers that
// signal when the *thread* that forked the child exits, not the process; Go
// may retire threads, so the forks happen on a thread locked for the life of
// the cluster.
type Spawner struct {
	reqs chan func()
	once sync.Once
}

// NewSpawner starts the Spawner's locked thread.
func NewSpawner() *Spawner {
	s := &Spawner{reqs: make(chan func())}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Returning while locked would end the thread; unlock so the
		// thread goes back to the runtime only after every child is gone.
		defer runtime.UnlockOSThread()
		close(ready)
		for f := range s.reqs {
			f()
		}
	}()
	<-ready
	return s
}

// Close lets the locked thread go. Call it after every child has exited.
func (s *Spawner) Close() {
	s.once.Do(func() { close(s.reqs) })
}

// Start runs name with args in dir, its output going to logPath.
func (s *Spawner) Start(name, bin string, args []string, dir, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: logPath, log: logFile, Done: make(chan struct{})}
	go func() {
		p.Err = cmd.Wait()
		_ = logFile.Close()
		close(p.Done)
	}()
	return p, nil
}

// ErrAddrInUse is reported when a component lost the race for a port.
var ErrAddrInUse = errors.New("address already in use")

// ports hands out free loopback ports and never the same one twice within
// this test binary, so that clusters started side by side do not collide.
// Another process may still take a port between the choice and the bind;
// framework.Start retries a component whose log says so.
var ports = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !ports.used[port] {
			ports.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("finding a free port: every port offered was already handed out")
}
