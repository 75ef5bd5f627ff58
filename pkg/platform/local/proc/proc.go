package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("spawner is closed")

// Spec describes a child process.
type Spec struct {
	// Name identifies the process in errors and logs.
	Name string
	// Path is the executable. Required.
	Path string
	// Args are the arguments after the executable name.
	Args []string
	// Env is the complete environment; nil means the parent's.
	Env []string
	// Dir is the working directory; empty means the parent's.
	Dir string
	// LogPath receives the child's stdout and stderr (appended). Required.
	LogPath string
	// Announce lists the "<key> on <address>" lines the child prints on
	// stdout once it listens (for example "listening"); Start waits for all
	// of them and returns the addresses.
	Announce []string
	// StartTimeout bounds the wait for the announcements. Zero means 60s.
	StartTimeout time.Duration
}

// Process is a running child.
type Process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	// addrs maps an announced key to its address.
	addrs map[string]string
	done  chan struct{}
	err   error // set before done is closed
}

// Name is the process's name from its Spec.
func (p *Process) Name() string { return p.name }

// Pid is the process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Addr returns the address announced for key ("listening").
func (p *Process) Addr(key string) string { return p.addrs[key] }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status; valid after Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process's group.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// Kill sends SIGKILL to the process group and waits until it is reaped or
// ctx ends.
func (p *Process) Kill(ctx context.Context) error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to die: %w", p.name, ctx.Err())
	}
}

// Terminate sends SIGTERM, waits up to grace for the process to exit, then
// kills it.
func (p *Process) Terminate(ctx context.Context, grace time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	return p.Kill(context.WithoutCancel(ctx))
}

// spawnReq asks the spawner's thread to fork a command.
type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

// Spawner starts child processes from one locked OS thread and tracks
// them. Close kills every child that is still running.
type Spawner struct {
	reqs chan spawnReq

	mu     sync.Mutex
	closed bool
	procs  map[*Process]struct{}
}

// NewSpawner starts a Spawner's thread. Call Close to release it.
func NewSpawner() *Spawner {
	s := &Spawner{reqs: make(chan spawnReq), procs: map[*Process]struct{}{}}
	started := make(chan struct{})
	go func() {
		// The forks happen on this locked thread, which the runtime never
		// retires while it is locked. Unlocked when the goroutine returns
		// (after Close killed every child), never ended: this goroutine may
		// have landed on a thread that forked other children with a
		// parent-death signal (a runbook command, say), and ending the
		// thread would kill them.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(started)
		for req := range s.reqs {
			req.reply <- req.cmd.Start()
		}
	}()
	<-started
	return s
}

// Start starts a child and waits for its announcements.
func (s *Spawner) Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Path == "" || spec.LogPath == "" {
		return nil, errors.New("a process needs a path and a log path")
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...) //nolint:gosec // the sandbox runs its own binary.
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	w := &announceWriter{out: logf, keys: spec.Announce, found: map[string]string{}, ready: make(chan struct{})}
	if len(spec.Announce) == 0 {
		// Nothing to wait for; the writer only copies.
		w.done = true
		close(w.ready)
	}
	cmd.Stdout, cmd.Stderr = w, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{name: spec.Name, cmd: cmd, log: logf, done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = logf.Close()
		return nil, ErrClosed
	}
	reply := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		s.mu.Unlock()
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	s.procs[p] = struct{}{}
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		s.mu.Lock()
		delete(s.procs, p)
		s.mu.Unlock()
		close(p.done)
	}()

	timeout := spec.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.ready:
		p.addrs = w.addresses()
		return p, nil
	case <-p.done:
		exit := p.err
		if exit == nil {
			exit = errors.New("exit status 0")
		}
		return nil, fmt.Errorf("%s exited before it listened (%w); log %s:\n%s", spec.Name, exit, spec.LogPath, tail(spec.LogPath))
	case <-ctx.Done():
		_ = p.Kill(context.Background())
		return nil, fmt.Errorf("starting %s: %w", spec.Name, ctx.Err())
	case <-t.C:
		_ = p.Kill(context.Background())
		return nil, fmt.Errorf("%s did not listen within %s; log %s:\n%s", spec.Name, timeout, spec.LogPath, tail(spec.LogPath))
	}
}

// Running lists the children that have not exited.
func (s *Spawner) Running() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Process, 0, len(s.procs))
	for p := range s.procs {
		out = append(out, p)
	}
	return out
}

// Close kills every running child, waits for them and releases the
// spawner's thread. It is idempotent.
func (s *Spawner) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for _, p := range s.Running() {
		if err := p.Kill(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	close(s.reqs)
	return errors.Join(errs...)
}

// announceWriter copies a child's stdout to its log and picks out the
// "<key> on <address>" lines.
type announceWriter struct {
	out  *os.File
	keys []string

	mu    sync.Mutex
	buf   []byte
	found map[string]string
	ready chan struct{}
	done  bool
}

func (w *announceWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	if !w.done {
		w.buf = append(w.buf, b...)
		for {
			i := bytes.IndexByte(w.buf, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(w.buf[:i]))
			w.buf = w.buf[i+1:]
			for _, k := range w.keys {
				if addr, ok := strings.CutPrefix(line, k+" on "); ok {
					w.found[k] = strings.TrimSpace(addr)
				}
			}
			if len(w.found) == len(w.keys) {
				w.done = true
				w.buf = nil
				close(w.ready)
				break
			}
		}
	}
	w.mu.Unlock()
	return w.out.Write(b)
}

func (w *announceWriter) addresses() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]string, len(w.found))
	for k, v := range w.found {
		out[k] = v
	}
	return out
}

// tail returns the last lines of a log file for an error message.
func tail(path string) string {
	data, err := os.ReadFile(path) //nolint:gosec // our own log file.
	if err != nil {
		return ""
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}
