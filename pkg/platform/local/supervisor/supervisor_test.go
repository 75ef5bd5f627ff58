package supervisor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

// fakeProc is a replica process that exits when killed.
type fakeProc struct {
	addr string
	done chan struct{}
	once sync.Once
	rt   *fakeRuntime
}

func (p *fakeProc) Addr() string          { return p.addr }
func (p *fakeProc) Pid() int              { return 1 }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) Kill(context.Context) error {
	p.once.Do(func() {
		p.rt.record("kill " + p.addr)
		close(p.done)
	})
	return nil
}

func (p *fakeProc) Terminate(context.Context, time.Duration) error {
	p.once.Do(func() {
		p.rt.record("terminate " + p.addr)
		close(p.done)
	})
	return nil
}

// fakeRuntime records what the supervisor does.
type fakeRuntime struct {
	mu  sync.Mutex
	log []string
}

func (r *fakeRuntime) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *fakeRuntime) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func (r *fakeRuntime) StartReplica(_ context.Context, s supervisor.ReplicaSpec) (supervisor.Handle, error) {
	r.record("start " + s.Name + " on " + s.Node)
	return &fakeProc{addr: s.Name, done: make(chan struct{}), rt: r}, nil
}

func (r *fakeRuntime) Ready(context.Context, string) bool { return true }

func newSupervisor(t *testing.T, replicas, nodes, ppn int) (*supervisor.Supervisor, *fakeRuntime, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	rt := &fakeRuntime{}
	s, err := supervisor.New(supervisor.Options{
		Regions:    []supervisor.Region{{Name: "east", Replicas: replicas, PodsPerNode: ppn, Nodes: supervisor.BuildNodes("east", nodes, 1)}},
		StartDelay: time.Second, Runtime: rt, Clock: clk, ReadyInterval: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	s.Run(context.Background())
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	step(t, clk, func() bool { return s.Ready() })
	return s, rt, clk
}

// step advances the fake clock in small steps until cond holds.
func step(t *testing.T, clk *clocktesting.FakeClock, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		clk.Step(10 * time.Millisecond)
		return cond()
	}, 10*time.Second, time.Millisecond)
}

func TestInitialPlacementSpreads(t *testing.T) {
	tests := []struct {
		name               string
		replicas, nodes, n int
		want               []string
	}{
		{"one replica per node", 3, 3, 2, []string{"node-east-1", "node-east-2", "node-east-3"}},
		{"more replicas than nodes fill evenly", 4, 2, 2, []string{"node-east-1", "node-east-2", "node-east-1", "node-east-2"}},
		{"podsPerNode caps the placement", 5, 2, 2, []string{"node-east-1", "node-east-2", "node-east-1", "node-east-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := supervisor.InitialPlacement([]supervisor.Region{{Name: "east", Replicas: tt.replicas, PodsPerNode: tt.n, Nodes: supervisor.BuildNodes("east", tt.nodes, 1)}})
			var nodes []string
			for i, r := range got {
				nodes = append(nodes, r.Node)
				require.Equal(t, fmt.Sprintf("recommender-east-%d", i+1), r.Name)
				require.Equal(t, "recommender", r.Labels["app"])
				require.Equal(t, fmt.Sprint(r.Node == "node-east-1"), r.Labels["nvidia.com/gpu.present"])
			}
			require.Equal(t, tt.want, nodes)
		})
	}
}

func TestKilledReplicaRestartsAfterStartDelay(t *testing.T) {
	s, rt, clk := newSupervisor(t, 2, 2, 2)
	require.NoError(t, s.Kill(context.Background(), "recommender-east-1", 0))
	killedAt := clk.Now()
	require.Equal(t, []supervisor.Capacity{{Region: "east", Desired: 2, Ready: 1}}, s.Capacity())
	clk.Step(900 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	require.NotContains(t, rt.events(), "start recommender-east-3 on node-east-1", "nothing starts before the start delay")
	step(t, clk, func() bool { return s.Ready() })
	require.Contains(t, rt.events(), "start recommender-east-3 on node-east-1", "the replacement goes to the freed node")
	replaced := s.Replaced(killedAt)
	require.NotNil(t, replaced)
	require.GreaterOrEqual(t, replaced.Sub(killedAt), time.Second)
}

func TestDrainStartsReplacementFirst(t *testing.T) {
	s, rt, clk := newSupervisor(t, 2, 3, 2)
	plan, err := s.PlanDrain("node-east-1")
	require.NoError(t, err)
	require.Equal(t, []string{"recommender-east-1"}, plan.Victims)
	require.Equal(t, 3, plan.Free)
	require.NoError(t, s.Drain("node-east-1"))
	step(t, clk, func() bool { return s.Drained("node-east-1") && s.Ready() })
	ev := rt.events()
	start := indexOf(ev, "start recommender-east-3 on node-east-3")
	stop := indexOf(ev, "terminate recommender-east-1")
	require.GreaterOrEqual(t, start, 0, ev)
	require.Greater(t, stop, start, "the replacement starts before the old replica stops: %v", ev)
	require.True(t, s.Cordoned("node-east-1"))
	require.NoError(t, s.Uncordon("node-east-1"))
	require.False(t, s.Cordoned("node-east-1"))
}

func TestRegionDownDesiresNothingUntilBack(t *testing.T) {
	s, _, clk := newSupervisor(t, 2, 2, 2)
	require.NoError(t, s.SetRegionDown(context.Background(), "east", true))
	require.Equal(t, []supervisor.Capacity{{Region: "east", Desired: 0, Ready: 0}}, s.Capacity())
	clk.Step(5 * time.Second)
	time.Sleep(20 * time.Millisecond)
	require.Empty(t, s.Replicas(), "a region that is down is not restarted")
	require.NoError(t, s.SetRegionDown(context.Background(), "east", false))
	step(t, clk, func() bool { return len(s.Replicas()) == 2 && s.Ready() })
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestAFailedGPUKillsItsReplicasAndKeepsReplicasOffItsNode(t *testing.T) {
	ctx := context.Background()
	s, rt, clk := newSupervisor(t, 2, 2, 2) // node-east-1 has the GPU
	_, err := s.FailGPU(ctx, "node-east-2", 0)
	require.EqualError(t, err, "node node-east-2 has no GPU to lose")
	killed, err := s.FailGPU(ctx, "node-east-1", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"recommender-east-1"}, killed)
	require.Contains(t, rt.events(), "kill recommender-east-1", "the replica dies at once")
	require.True(t, s.GPULost("node-east-1"))
	killed, err = s.FailGPU(ctx, "node-east-1", 0)
	require.NoError(t, err)
	require.Empty(t, killed, "failing a lost GPU again does nothing")
	plan, err := s.PlanDrain("node-east-2")
	require.NoError(t, err)
	require.Zero(t, plan.Free, "a node without its GPU is no room for replicas")

	step(t, clk, func() bool { return s.Ready() })
	require.Contains(t, rt.events(), "start recommender-east-3 on node-east-2", "the replacement goes to a node that still runs replicas")
	for _, r := range s.Replicas() {
		require.NotEqual(t, "node-east-1", r.Node)
	}

	require.NoError(t, s.RestoreGPU("node-east-1"))
	require.NoError(t, s.RestoreGPU("node-east-1"), "restore is idempotent")
	require.False(t, s.GPULost("node-east-1"))
	require.NoError(t, s.Kill(ctx, "recommender-east-3", 0))
	step(t, clk, func() bool { return s.Ready() })
	require.Contains(t, rt.events(), "start recommender-east-4 on node-east-1", "the node takes replicas again once its GPU is back")
}
