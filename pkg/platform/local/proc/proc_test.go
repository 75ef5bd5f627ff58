package proc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/platform/local/proc"
)

func TestStartParsesAnnouncementsAndCloseKills(t *testing.T) {
	dir := t.TempDir()
	s := proc.NewSpawner()
	ctx := context.Background()
	p, err := s.Start(ctx, proc.Spec{
		Name: "sleeper", Path: "/bin/sh", LogPath: filepath.Join(dir, "sleeper.log"),
		Args:     []string{"-c", "echo hello; echo 'control on 127.0.0.1:2'; echo 'listening on 127.0.0.1:1'; exec sleep 60"},
		Announce: []string{"listening", "control"},
	})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", p.Addr("listening"))
	require.Equal(t, "127.0.0.1:2", p.Addr("control"))
	require.NoError(t, syscall.Kill(p.Pid(), 0), "the child runs")
	pgid, err := syscall.Getpgid(p.Pid())
	require.NoError(t, err)
	require.Equal(t, p.Pid(), pgid, "the child leads its own process group")
	require.Len(t, s.Running(), 1)

	require.NoError(t, s.Close(ctx))
	require.True(t, p.Exited())
	require.Empty(t, s.Running())
	_, err = s.Start(ctx, proc.Spec{Name: "late", Path: "/bin/true", LogPath: filepath.Join(dir, "late.log")})
	require.ErrorIs(t, err, proc.ErrClosed)
	log, err := os.ReadFile(filepath.Join(dir, "sleeper.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "hello")
}

func TestStartWithoutAnnouncementsReturnsAtOnceAndKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	s := proc.NewSpawner()
	defer func() { require.NoError(t, s.Close(context.Background())) }()
	p, err := s.Start(context.Background(), proc.Spec{
		Name: "chatty", Path: "/bin/sh", LogPath: filepath.Join(dir, "chatty.log"),
		Args: []string{"-c", "echo one; echo two; echo listening on x"},
	})
	require.NoError(t, err)
	require.NoError(t, p.Err(), "printing after Start returned is fine")
	log, err := os.ReadFile(filepath.Join(dir, "chatty.log"))
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\nlistening on x\n", string(log))
}

func TestStartReportsAnEarlyExitWithItsLog(t *testing.T) {
	dir := t.TempDir()
	s := proc.NewSpawner()
	defer func() { require.NoError(t, s.Close(context.Background())) }()
	_, err := s.Start(context.Background(), proc.Spec{
		Name: "broken", Path: "/bin/sh", LogPath: filepath.Join(dir, "broken.log"),
		Args: []string{"-c", "echo bind: address already in use >&2; exit 3"}, Announce: []string{"listening"},
	})
	require.ErrorContains(t, err, "broken exited before it listened")
	require.ErrorContains(t, err, "address already in use")
}

func TestTerminateEscalatesToKill(t *testing.T) {
	dir := t.TempDir()
	s := proc.NewSpawner()
	defer func() { require.NoError(t, s.Close(context.Background())) }()
	p, err := s.Start(context.Background(), proc.Spec{
		Name: "stubborn", Path: "/bin/sh", LogPath: filepath.Join(dir, "stubborn.log"),
		Args: []string{"-c", "trap '' TERM; echo listening on x; while :; do sleep 0.05; done"}, Announce: []string{"listening"},
	})
	require.NoError(t, err)
	t0 := time.Now()
	require.NoError(t, p.Terminate(context.Background(), 200*time.Millisecond))
	require.True(t, p.Exited())
	require.GreaterOrEqual(t, time.Since(t0), 200*time.Millisecond, "SIGTERM was ignored, so it waited the grace period")
}

// TestClosingASpawnerKillsNoOtherChild: a child that another part of the
// process started with a parent-death signal (a runbook command, a test's
// Prometheus) dies when the OS thread that forked it ends. A Spawner's
// goroutine locks whichever thread it lands on, often the very thread
// that called NewSpawner, so it must never end that thread: before, it
// returned with the thread locked after Close, the runtime ended the
// thread, and a child forked on it earlier got SIGKILL.
func TestClosingASpawnerKillsNoOtherChild(t *testing.T) {
	var children []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range children {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	for range 20 {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		require.NoError(t, cmd.Start())
		children = append(children, cmd)
		s := proc.NewSpawner()
		require.NoError(t, s.Close(t.Context()))
	}
	time.Sleep(200 * time.Millisecond)
	for i, c := range children {
		var st syscall.WaitStatus
		pid, err := syscall.Wait4(c.Process.Pid, &st, syscall.WNOHANG, nil)
		require.NoError(t, err)
		require.Zero(t, pid, "child %d ended (%v): a spawner ended the thread that forked it", i, st)
	}
}
