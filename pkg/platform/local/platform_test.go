package local_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/local"
	"github.com/firedrill/firedrill/pkg/platform/local/supervisor"
)

func TestTargetsBeforeStart(t *testing.T) {
	sb := tinySandbox(3, 3)
	sb.Regions[0].GPUNodes = ptr[int32](1)
	p, err := local.New(local.Options{Sandbox: sb, StateDir: t.TempDir()})
	require.NoError(t, err)
	tests := []struct {
		name  string
		fault v1alpha1.Fault
		want  []string
	}{
		{"pod kill in a region lists its replicas", v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "us-west"}},
			[]string{"recommender-us-west-1", "recommender-us-west-2", "recommender-us-west-3"}},
		{"gpu only keeps replicas on GPU nodes", v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "us-east", GPUOnly: true}},
			[]string{"recommender-us-east-1"}},
		{"a selector matches pod labels", v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"node": "node-us-west-2"}}}},
			[]string{"recommender-us-west-2"}},
		{"node drain lists matching nodes", v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"nvidia.com/gpu.present": "false"}}}},
			[]string{"node-us-east-2", "node-us-east-3"}},
		{"a store outage without a region hits every store", v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}},
			[]string{"store-us-east", "store-us-west"}},
		{"a cutover targets the lost region", v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "us-west", To: "us-east"}},
			[]string{"us-west"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := p.Targets(context.Background(), fault("f", tt.fault))
			require.NoError(t, err)
			var names []string
			for _, x := range ts {
				names = append(names, x.Name)
			}
			require.Equal(t, tt.want, names)
		})
	}
}

// TestPodKillAndNodeDrain: a killed replica comes back after the start
// delay as a new process; a drained node's replicas move first.
func TestPodKillAndNodeDrain(t *testing.T) {
	s := startSandbox(t, tinySandbox(2, 2))
	ctx := context.Background()
	get(t, s.Endpoint()+"/v1/model")

	// Pod kill.
	f := fault("kill", v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Region: "us-east"}})
	ts, err := s.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, ts, 2)
	before := s.Supervisor().Replicas()
	injected := time.Now()
	require.NoError(t, s.Inject(ctx, f, ts[0]))
	require.False(t, capacityBack(t, s)(), "capacity is short right after the kill")
	require.Eventually(t, capacityBack(t, s), 30*time.Second, 10*time.Millisecond)
	rto := time.Since(injected)
	t.Logf("pod kill: capacity back after %s (start delay 300ms + process start + model load)", rto)
	require.Greater(t, rto, 300*time.Millisecond, "recovery includes the start delay")
	replaced := s.replaced(injected)
	require.NotNil(t, replaced, "the replacement is reported")
	require.GreaterOrEqual(t, replaced.Sub(injected), 300*time.Millisecond)
	took := s.tookEffect("kill")
	require.NotNil(t, took, "the kill reports when it took effect")
	require.Less(t, took.Sub(injected), 300*time.Millisecond)
	after := s.Supervisor().Replicas()
	require.NotContains(t, names(after), ts[0].Name)
	require.Len(t, after, len(before))
	require.NoError(t, s.Revert(ctx, f, ts[0]))
	require.Eventually(t, func() bool { return strings.Contains(s.notes("kill"), "replacement replica") }, 10*time.Second, 20*time.Millisecond)

	// Node drain.
	d := fault("drain", v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Region: "us-west", OnInsufficientCapacity: v1alpha1.CapacityRefuse}})
	nodes, err := s.Targets(ctx, d)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	node := nodes[0].Name
	require.NoError(t, s.Inject(ctx, d, nodes[0]))
	require.True(t, s.Supervisor().Cordoned(node))
	for _, r := range s.Supervisor().Replicas() {
		require.NotEqual(t, node, r.Node, "the drained node runs nothing")
	}
	require.True(t, capacityBack(t, s)(), "the replacement was ready before the old replica stopped")
	require.NoError(t, s.Inject(ctx, d, nodes[0]), "inject is idempotent")
	require.Contains(t, s.notes("drain"), "cordoned and drained")
	cands, err := s.Targets(ctx, d)
	require.NoError(t, err)
	require.Len(t, cands, 1, "a cordoned node is no candidate")
	require.NoError(t, s.Revert(ctx, d, nodes[0]))
	require.False(t, s.Supervisor().Cordoned(node))
	require.NoError(t, s.Revert(ctx, d, nodes[0]), "revert is idempotent")
	get(t, s.Endpoint()+"/v1/model")
}

// TestModelStoreOutage: a replica restarted while its store is down comes up
// from its node-local cache, then from the degraded fallback when the node
// has no cached model; slow and hang are toxics on the store's proxy.
func TestModelStoreOutage(t *testing.T) {
	s := startSandbox(t, tinySandbox(2, 2))
	ctx := context.Background()

	f := fault("store", v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Region: "us-east", RestartReplicas: 1}})
	ts, err := s.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.NoError(t, s.Inject(ctx, f, ts[0]))
	require.Eventually(t, capacityBack(t, s), 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(s.notes("store"), "from its node-local cache")
	}, 10*time.Second, 50*time.Millisecond, "notes: %v", s.notes("store"))
	seen := time.Now()
	require.Eventually(t, func() bool { return len(s.models(seen)) == 4 }, 5*time.Second, 50*time.Millisecond, "every ready replica's model is reported each second")
	models := s.models(seen)
	for _, m := range models {
		require.False(t, m.Fallback, "%s serves its cached model", m.Replica)
	}
	require.NoError(t, s.Revert(ctx, f, ts[0]))
	require.NoError(t, s.Revert(ctx, f, ts[0]), "revert is idempotent")
	storeServes(t, s, "us-east")

	// A node without a cached model (its cache was lost): the replica
	// restarted during the outage serves the degraded fallback.
	cold := fault("store-cold", v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageUnavailable, Region: "us-east", RestartReplicas: 1}})
	for _, n := range []string{"node-us-east-1", "node-us-east-2"} {
		require.NoError(t, os.RemoveAll(filepath.Join(s.Dir(), "nodes", n, "cache", "models")))
	}
	require.NoError(t, s.Inject(ctx, cold, ts[0]))
	require.Eventually(t, capacityBack(t, s), 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(s.notes("store-cold"), "serves the degraded fallback")
	}, 10*time.Second, 50*time.Millisecond, "notes: %v", s.notes("store-cold"))
	seen = time.Now()
	require.Eventually(t, func() bool { return len(s.models(seen)) == 4 }, 5*time.Second, 50*time.Millisecond)
	models = s.models(seen)
	fallback := 0
	for _, m := range models {
		if m.Fallback {
			fallback++
		}
	}
	require.Equal(t, 1, fallback, "one replica serves the fallback: %+v", models)
	require.NoError(t, s.Revert(ctx, cold, ts[0]))
	storeServes(t, s, "us-east")
	require.Eventually(t, func() bool {
		models := s.models(time.Now().Add(-1500 * time.Millisecond))
		for _, m := range models {
			if m.Fallback {
				return false
			}
		}
		return len(models) == 4
	}, 20*time.Second, 100*time.Millisecond, "the degraded replica loads the model once the store is back")

	// Slow and hang are toxics on the proxy replicas pull through.
	for _, mode := range []v1alpha1.OutageMode{v1alpha1.OutageSlow, v1alpha1.OutageHang} {
		sf := fault("store-"+string(mode), v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: mode, Region: "us-west", Latency: latency(mode)}})
		require.NoError(t, s.Inject(ctx, sf, evidence.Target{Kind: evidence.KindStore, Name: "store-us-west", Region: "us-west"}))
		start := time.Now()
		_, err := proxyGet(s, "us-west", 600*time.Millisecond)
		if mode == v1alpha1.OutageSlow {
			require.NoError(t, err)
			require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "slow adds latency")
		} else {
			require.Error(t, err, "hang never answers")
		}
		require.NoError(t, s.Revert(ctx, sf, evidence.Target{Kind: evidence.KindStore, Name: "store-us-west", Region: "us-west"}))
		storeServes(t, s, "us-west")
	}
}

func latency(m v1alpha1.OutageMode) *metav1.Duration {
	if m == v1alpha1.OutageSlow {
		return &metav1.Duration{Duration: 400 * time.Millisecond}
	}
	return nil
}

// TestRegionCutover: losing a region moves the front door to the other one
// (by health, or by an explicit switch) and the revert fails back.
func TestRegionCutover(t *testing.T) {
	s := startSandbox(t, tinySandbox(2, 2))
	ctx := context.Background()
	for _, traffic := range []v1alpha1.TrafficSwitch{v1alpha1.TrafficAuto, v1alpha1.TrafficManual} {
		f := fault("cutover-"+string(traffic), v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "us-east", To: "us-west", Traffic: traffic}})
		ts, err := s.Targets(ctx, f)
		require.NoError(t, err)
		// Under load the front door can start on us-west (its backends
		// were healthy first) and move to the preferred us-east later;
		// the cutover must start from us-east to be seen moving.
		require.Eventually(t, func() bool { return region(t, s) == "us-east" }, 10*time.Second, 20*time.Millisecond)
		injected := time.Now()
		require.NoError(t, s.Inject(ctx, f, ts[0]))
		require.Eventually(t, func() bool { return region(t, s) == "us-west" }, 10*time.Second, 20*time.Millisecond)
		t.Logf("%s cutover: traffic on us-west after %s", traffic, time.Since(injected))
		get(t, s.Endpoint()+"/v1/model")
		for _, c := range s.Supervisor().Capacity() {
			if c.Region == "us-east" {
				require.Zero(t, c.Desired, "a lost region desires nothing")
				require.Zero(t, c.Ready)
			}
		}
		reverted := time.Now()
		require.NoError(t, s.Revert(ctx, f, ts[0]))
		require.Eventually(t, capacityBack(t, s), 30*time.Second, 10*time.Millisecond)
		require.Eventually(t, func() bool { return region(t, s) == "us-east" }, 10*time.Second, 20*time.Millisecond)
		t.Logf("%s cutover: failed back to us-east %s after the revert", traffic, time.Since(reverted))
		require.Eventually(t, func() bool {
			return strings.Contains(s.notes(f.ID), "front door moved traffic from us-east to us-west")
		}, 5*time.Second, 50*time.Millisecond, "notes: %s", s.notes(f.ID))
		notes := s.notes(f.ID)
		if traffic == v1alpha1.TrafficManual {
			require.Contains(t, notes, "switched manually")
		}
		storeServes(t, s, "us-east")
	}
}

func names(rs []supervisor.Replica) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // test.
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return resp.Header.Get("X-Firedrill-Region")
}

func region(t *testing.T, s *sandbox) string {
	t.Helper()
	st, err := s.FrontDoor().State(context.Background())
	require.NoError(t, err)
	return st.Active
}

// proxyGet asks a region's store, through the proxy replicas use, for its
// API root.
func proxyGet(s *sandbox, region string, timeout time.Duration) (int, error) {
	addr := s.StoreProxy(region)
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + addr + "/v2/") //nolint:noctx // test.
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func storeServes(t *testing.T, s *sandbox, region string) {
	t.Helper()
	require.Eventually(t, func() bool {
		code, err := proxyGet(s, region, time.Second)
		return err == nil && code == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the %s store serves again through its proxy", region)
}
