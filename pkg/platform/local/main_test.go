package local_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/frontdoor"
	reccli "github.com/firedrill/firedrill/pkg/recommender/cli"
)

// Environment variables that make the test binary act as a sandbox child
// (recommender, frontdoor) or as a drill process that owns a sandbox.
const (
	envChild = "FIREDRILL_TEST_SANDBOX_CHILD"
	envOwner = "FIREDRILL_TEST_SANDBOX_OWNER"
)

// TestMain lets the test binary be the sandbox's children, the way the
// drill binary is in production, and a sandbox owner for the kill -9 test.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envChild) == "1":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := &cobra.Command{Use: "drill", SilenceUsage: true}
		root.AddCommand(reccli.NewCommand(), frontdoor.NewCommand())
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case os.Getenv(envOwner) != "":
		os.Exit(runOwner(os.Getenv(envOwner)))
	}
	os.Exit(m.Run())
}

// runOwner starts a sandbox in stateDir, prints its directory and waits to
// be killed.
func runOwner(stateDir string) int {
	p, err := local.New(local.Options{Sandbox: tinySandbox(1, 2), StateDir: stateDir, Env: []string{envChild + "=1"},
		ModelCacheDir: filepath.Join(stateDir, "models")})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := p.Start(context.Background(), evidence.Discard); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready", p.Dir())
	select {}
}

func ptr[T any](v T) *T { return &v }

// tinySandbox is two regions of two nodes with `replicas` replicas each
// and a tiny model.
func tinySandbox(replicas, nodes int32) *v1alpha1.LocalSandbox {
	return &v1alpha1.LocalSandbox{
		Regions: []v1alpha1.LocalRegion{
			{Name: "us-east", Nodes: ptr(nodes), Replicas: ptr(replicas)},
			{Name: "us-west", Nodes: ptr(nodes), Replicas: ptr(replicas)},
		},
		StartDelay: &metav1.Duration{Duration: 300 * time.Millisecond},
		Model:      &v1alpha1.LocalModel{Users: ptr[int32](500), Items: ptr[int32](300)},
	}
}

// sandbox is a started sandbox under test.
type sandbox struct {
	*local.Platform
	info   platform.Info
	ports  []string
	events *events
}

// events keeps what the sandbox reported.
type events struct {
	mu  sync.Mutex
	all []evidence.Event
}

func (e *events) Record(ev evidence.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []evidence.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]evidence.Event(nil), e.all...)
}

// notes are the notes and traffic switches reported about fault.
func (s *sandbox) notes(fault string) string {
	var out []string
	for _, ev := range s.events.list() {
		if ev.Fault == fault && (ev.Type == evidence.EventNote || ev.Type == evidence.EventTrafficSwitched) {
			out = append(out, ev.Message)
		}
	}
	return strings.Join(out, "\n")
}

// replaced is the first replacement reported at or after since, or nil.
func (s *sandbox) replaced(since time.Time) *time.Time {
	for _, ev := range s.events.list() {
		if ev.Type == evidence.EventReplaced && !ev.At.Before(since) {
			at := ev.At
			return &at
		}
	}
	return nil
}

// tookEffect is the first TookEffect reported about fault, or nil.
func (s *sandbox) tookEffect(fault string) *time.Time {
	for _, ev := range s.events.list() {
		if ev.Type == evidence.EventTookEffect && ev.Fault == fault {
			at := ev.At
			return &at
		}
	}
	return nil
}

// models are the newest model observation of every replica reported
// after since.
func (s *sandbox) models(since time.Time) map[string]evidence.ModelObservation {
	out := map[string]evidence.ModelObservation{}
	for _, ev := range s.events.list() {
		if ev.Type == evidence.EventModelServed && ev.Model != nil && !ev.At.Before(since) {
			out[ev.Model.Replica] = *ev.Model
		}
	}
	return out
}

func startSandbox(t *testing.T, sb *v1alpha1.LocalSandbox) *sandbox {
	t.Helper()
	state := t.TempDir()
	p, err := local.New(local.Options{Sandbox: sb, StateDir: state, Env: []string{envChild + "=1"}, ModelCacheDir: filepath.Join(state, "models")})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evs := &events{}
	info, err := p.Start(ctx, evs)
	require.NoError(t, err)
	s := &sandbox{Platform: p, info: info, events: evs}
	t.Cleanup(func() { s.stopAndCheck(t) })
	s.recordPorts()
	return s
}

// recordPorts remembers every address the sandbox listens on now.
func (s *sandbox) recordPorts() {
	for k, v := range s.info.Details {
		if r, ok := strings.CutPrefix(k, "store/"); ok {
			s.ports = append(s.ports, v, s.StoreProxy(r))
		}
	}
	s.ports = append(s.ports, strings.TrimPrefix(s.Endpoint(), "http://"), strings.TrimPrefix(s.info.Details["frontDoorControl"], "http://"))
	for _, r := range s.Supervisor().Replicas() {
		if r.Addr != "" {
			s.ports = append(s.ports, r.Addr)
		}
	}
}

// stopAndCheck stops the sandbox and checks that no process and no
// listening port is left.
func (s *sandbox) stopAndCheck(t *testing.T) {
	t.Helper()
	s.recordPorts()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	require.Empty(t, processesOf(s.Dir()), "no sandbox process survives Stop")
	for _, addr := range s.ports {
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err, "port %s is still in use after Stop", addr)
		require.NoError(t, ln.Close())
	}
	require.NoError(t, s.Stop(ctx), "Stop is idempotent")
}

func processesOf(dir string) []int {
	var pids []int
	for _, p := range local.SandboxProcesses() {
		if p.Sandbox == dir {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}

func capacityBack(t *testing.T, s *sandbox) func() bool {
	t.Helper()
	return func() bool {
		points, err := s.Capacity(context.Background())
		require.NoError(t, err)
		for _, c := range points {
			if c.Ready < c.Desired {
				return false
			}
		}
		return len(points) > 0
	}
}

func fault(id string, f v1alpha1.Fault) platform.Fault {
	if f.Revert == "" {
		f.Revert = v1alpha1.RevertAuto
	}
	return platform.Fault{ID: id, RunID: "test", Spec: &f}
}

// TestKillDashNineLeavesNoChildren: a drill process that runs a sandbox and
// dies by SIGKILL takes every child with it (parent-death signal).
func TestKillDashNineLeavesNoChildren(t *testing.T) {
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$") //nolint:gosec // the test binary itself.
	cmd.Env = append(os.Environ(), envOwner+"="+state)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var dir string
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
			dir = d
			break
		}
		t.Log(sc.Text())
	}
	require.NotEmpty(t, dir, "the owner never reported a ready sandbox")
	require.NotEmpty(t, processesOf(dir), "the sandbox runs processes")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return len(processesOf(dir)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"children of a SIGKILLed drill must die with it: %v", processesOf(dir))
	killed, err := local.KillLeftovers(state)
	require.NoError(t, err)
	require.Empty(t, killed)
	require.NoDirExists(t, filepath.Join(dir, "stores"), "a dead sandbox's data is removed")
	require.DirExists(t, filepath.Join(dir, "logs"), "its logs are kept")
}
