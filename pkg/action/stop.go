package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/utils/clock"
)

// stopWait bounds how long Stop waits for killed processes to be gone.
const stopWait = 10 * time.Second

// Stop ends actions a dead drill left in flight, before anything is
// reverted: it kills every process that carries an action's token (the
// command and whatever it started, even in another process group) and the
// action's recorded process group, and waits until they are gone; for a
// webhook, whose request may still be served, it waits until the
// action's deadline has passed. It returns what it did, for people.
func Stop(ctx context.Context, clk clock.PassiveClock, actions []InFlight) ([]string, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	var did []string
	var errs []error
	for _, a := range actions {
		switch a.Kind {
		case "webhook":
			if wait := a.Deadline.Sub(clk.Now()); wait > 0 {
				did = append(did, fmt.Sprintf("waited %s for webhook %s to reach its timeout", wait.Round(time.Millisecond), a.What))
				select {
				case <-ctx.Done():
					errs = append(errs, fmt.Errorf("waiting for webhook %s: %w", a.What, ctx.Err()))
				case <-time.After(wait):
				}
			}
		default:
			pids := processesWithToken(a.Token)
			if len(pids) == 0 && !groupAlive(a.PGID) {
				continue
			}
			for _, pid := range pids {
				_ = syscall.Kill(-pid, syscall.SIGKILL) // its group, if it leads one
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if a.PGID > 0 {
				_ = syscall.Kill(-a.PGID, syscall.SIGKILL)
			}
			if err := waitGone(ctx, a); err != nil {
				errs = append(errs, err)
				continue
			}
			did = append(did, fmt.Sprintf("killed runbook command %q still running (process group %d, %d process(es))", a.What, a.PGID, len(pids)))
		}
	}
	return did, errors.Join(errs...)
}

// waitGone waits until no process of a remains.
func waitGone(ctx context.Context, a InFlight) error {
	deadline := time.Now().Add(stopWait)
	for len(processesWithToken(a.Token)) > 0 || groupAlive(a.PGID) {
		if time.Now().After(deadline) {
			return fmt.Errorf("runbook command %q (process group %d) is still running after SIGKILL", a.What, a.PGID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for runbook command %q to stop: %w", a.What, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// groupAlive says whether a process group still has a member.
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// processesWithToken lists the live processes whose environment carries
// EnvToken=token. Zombies are not live.
func processesWithToken(token string) []int {
	if token == "" {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := EnvToken + "=" + token
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !containsVar(env, want) || zombie(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func containsVar(env []byte, kv string) bool {
	for _, v := range strings.Split(string(env), "\x00") {
		if v == kv {
			return true
		}
	}
	return false
}

// zombie says whether pid has exited and waits for its parent.
func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}
