//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/procbed"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/recommender/serve"
	"github.com/firedrill/firedrill/pkg/report"
)

// skew allows for the order in which two processes on one machine read
// the clock for the same event (drill records an injection after its API
// call returned; the agent may see the pod change first).
const skew = 250 * time.Millisecond

// modelWatch records, for every pod process, the model it served the
// first time it was Ready, asked as soon as the agent saw it Ready.
type modelWatch struct {
	mu    sync.Mutex
	first map[string]served // by pod UID
}

type served struct {
	pod  string
	at   time.Time
	info serve.ModelInfo
	err  error
}

func watchModels(ctx context.Context, t *testing.T, agent *framework.NodeAgent) *modelWatch {
	t.Helper()
	w := &modelWatch{first: map[string]served{}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, r := range agent.Running() {
				if r.Ready.IsZero() || !strings.HasPrefix(r.Pod, "recommender-") {
					continue
				}
				w.mu.Lock()
				_, seen := w.first[string(r.UID)]
				w.mu.Unlock()
				if seen {
					continue
				}
				mi, err := podModel(ctx, r.Addr)
				w.mu.Lock()
				w.first[string(r.UID)] = served{pod: r.Pod, at: time.Now(), info: mi, err: err}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *modelWatch) of(uid string) (served, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.first[uid]
	return s, ok
}

// started returns the processes of a region's recommender pods started in
// [from, to).
func started(procs []framework.ProcessRecord, region string, from, to time.Time) []framework.ProcessRecord {
	return slices.DeleteFunc(slices.Clone(procs), func(r framework.ProcessRecord) bool {
		return !strings.HasPrefix(r.Pod, framework.RecommenderName(region)+"-") || r.Started.Before(from) || !r.Started.Before(to)
	})
}

// byUID finds a pod's process.
func byUID(t *testing.T, procs []framework.ProcessRecord, uid string) framework.ProcessRecord {
	t.Helper()
	i := slices.IndexFunc(procs, func(r framework.ProcessRecord) bool { return string(r.UID) == uid })
	require.GreaterOrEqual(t, i, 0, "no process for pod %s", uid)
	return procs[i]
}

// latestReady is the last Ready instant of the given processes.
func latestReady(t *testing.T, procs []framework.ProcessRecord) time.Time {
	t.Helper()
	var last time.Time
	for _, r := range procs {
		require.False(t, r.Ready.IsZero(), "process of %s became Ready", r.Pod)
		if r.Ready.After(last) {
			last = r.Ready
		}
	}
	return last
}

// rtos formats a result's RTOs, instants (from the injection) and the
// fault window's SLIs for a measure line.
func rtos(r *v1alpha1.Recovery) string {
	in := r.Instants
	at := func(p *metav1.MicroTime) string {
		if p == nil {
			return "-"
		}
		return "+" + p.Sub(r.Start.Time).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("service RTO %s, capacity RTO %s, recovery %s (impact %s, replaced %s, ready %s, serving %s, recovered %s; during: %d requests, %d failed, p99 %s)",
		report.OptDuration(r.ServiceRTO), report.OptDuration(r.CapacityRTO), report.OptDuration(r.RecoveryTime),
		at(in.Impact), at(in.Replaced), at(in.Ready), at(in.Serving), at(in.Recovered),
		r.During.Requests, r.During.Failures, r.During.P99.Round(time.Millisecond))
}

// TestServiceDrillsOnProcessPods runs every Kubernetes fault through the
// drill binary against process-backed pods: the probes go to the
// frontdoor Service (through the service proxy) or to a Gateway following
// an HTTPRoute, so every RTO is what a user of the service sees, and the
// pods' processes are checked to have lived and died as each fault says.
func TestServiceDrillsOnProcessPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	b := startProcBed(ctx, t, 3)
	c, pr := b.c, b.pr
	models := watchModels(ctx, t, pr.Agent)
	frontdoor := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "recommender", "region": "us-east"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, frontdoor, metav1.CreateOptions{})
	require.NoError(t, err)
	endpoint := pr.ServiceURL(ctx, t, ns, "frontdoor", 80)
	d := drillRunner{bin: b.drill, kubeconfig: c.Kubeconfig}
	run := func(t *testing.T, name, endpoint, steps string) (*report.Report, string) {
		t.Helper()
		plan := writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [{kind: Deployment, name: recommender-us-east}, {kind: Deployment, name: recommender-us-west}]
    modelStore: {workload: {kind: Deployment, name: model-store}}
  load: {rate: 20, timeout: 500ms, requests: [{path: "/v1/recommendations?user={user}&k=10"}]}
  objectives: {rto: 60s, recovered: {successRate: "99", latencyP99: 500ms, for: 2s}}
  safety: {maxPodsPercent: 50, maxNodes: 1, namespaces: [%s]}
  steps:
    - {name: baseline, wait: 3s}
`, name, ns, endpoint, ns)+steps)
		rep, out := d.run(t, plan, name, 0)
		require.NotNil(t, rep, out)
		return rep, out
	}
	t.Run("pod kill: the pod's process dies and a replacement serves", func(t *testing.T) {
		settleCluster(ctx, t, c)
		rep, out := run(t, "svc-pod-kill", endpoint, `    - name: kill
      fault:
        podKill: {region: us-east, selector: {matchLabels: {app: recommender}}, mode: one}
`)
		f := rep.Steps[1].Fault
		require.Len(t, f.Targets, 1, out)
		inj := f.Injected.Time
		procs := pr.Agent.Processes()
		i := slices.IndexFunc(procs, func(r framework.ProcessRecord) bool {
			return r.Pod == f.Targets[0].Name || r.Namespace+"/"+r.Pod == f.Targets[0].Name
		})
		require.GreaterOrEqual(t, i, 0, "no process for the target %s", f.Targets[0].Name)
		victim := procs[i]
		require.Contains(t, []framework.StopReason{framework.StopTerminated, framework.StopKilled}, victim.Stop, "%+v", victim)
		require.False(t, victim.TermSent.Before(inj.Add(-skew)), "SIGTERM after the kill")
		require.Equal(t, 2*time.Second, victim.Grace, "a pod deleted with grace period 0 gets the kubelet's 2 s")
		repl := started(procs, "us-east", inj.Add(-skew), time.Now())
		require.Len(t, repl, 1, "one replacement process")
		require.NotNil(t, f.Failover.CapacityRTO, out)
		require.NotNil(t, f.Failover.ServiceRTO, out)
		require.False(t, f.Failover.Instants.Ready.Time.Before(latestReady(t, repl).Add(-skew)),
			"capacity is back no earlier than the replacement process is Ready")
		t.Logf("measure: pod kill through the Service: %s; process exited %s after the kill (%s), replacement Ready %s after",
			rtos(f.Failover), victim.Exited.Sub(inj).Round(time.Millisecond), victim.Stop, latestReady(t, repl).Sub(inj).Round(time.Millisecond))
	})

	t.Run("drain: evicted pods stop within their grace period, replacements load the model", func(t *testing.T) {
		settleCluster(ctx, t, c)
		// Drain the us-east node that runs the most replicas: with two
		// of them, the second eviction waits for the budget.
		before := pr.Agent.Running()
		node := busiestNode(before, "us-east")
		rep, out := run(t, "svc-drain", endpoint, fmt.Sprintf(`    - name: drain
      fault:
        nodeDrain: {selector: {matchLabels: {kubernetes.io/hostname: %s}}}
`, node))
		f := rep.Steps[1].Fault
		require.Len(t, f.Targets, 1, out)
		require.Equal(t, node, f.Targets[0].Name)
		inj := f.Injected.Time
		procs := pr.Agent.Processes()
		var evicted []framework.ProcessRecord
		for _, r := range before {
			if r.Node == node && strings.HasPrefix(r.Pod, "recommender-") {
				evicted = append(evicted, byUID(t, procs, string(r.UID)))
			}
		}
		require.NotEmpty(t, evicted, "the drained node ran recommender pods")
		for _, r := range evicted {
			require.Equal(t, framework.StopTerminated, r.Stop, "evicted %s drained and exited on SIGTERM: %+v", r.Pod, r)
			require.False(t, r.TermSent.Before(inj.Add(-skew)))
			require.LessOrEqual(t, r.Exited.Sub(r.TermSent), r.Grace, "within its grace period")
		}
		repl := started(procs, "us-east", inj.Add(-skew), time.Now())
		require.Len(t, repl, len(evicted), "a replacement per evicted pod")
		for _, r := range repl {
			require.NotEqual(t, node, r.Node, "replacements run elsewhere")
			require.Eventually(t, func() bool { _, ok := models.of(string(r.UID)); return ok }, 10*time.Second, 50*time.Millisecond)
			m, _ := models.of(string(r.UID))
			require.NoError(t, m.err)
			require.Equal(t, b.model.Version, m.info.Version, "replacement %s loaded the published model", r.Pod)
			require.False(t, m.info.Degraded)
		}
		require.NotNil(t, f.Failover.CapacityRTO, out)
		require.Positive(t, f.Failover.CapacityRTO.Duration, "an evicted pod stops serving capacity")
		require.False(t, f.Failover.Instants.Ready.Time.Before(latestReady(t, repl).Add(-skew)),
			"capacity is back no earlier than the last replacement is Ready (ready %s, replacements %s)",
			f.Failover.Instants.Ready, latestReady(t, repl))
		t.Logf("measure: drain of %s through the Service: %s; %d evicted processes exited %s after the first eviction, replacements Ready %s after",
			node, rtos(f.Failover), len(evicted), latestExit(evicted).Sub(inj).Round(time.Millisecond), latestReady(t, repl).Sub(inj).Round(time.Millisecond))
	})

	t.Run("gpu failure: the processes on a node whose GPUs fail die at once, replacements load the model elsewhere", func(t *testing.T) {
		settleCluster(ctx, t, c)
		// Fail the us-east node running the most replicas (after the drain
		// they may all run on one).
		before := pr.Agent.Running()
		node := busiestNode(before, "us-east")
		rep, out := run(t, "svc-gpu", endpoint, fmt.Sprintf(`    - name: gpu
      fault:
        gpuFailure: {region: us-east, selector: {matchLabels: {kubernetes.io/hostname: %s}}}
        duration: 5s
`, node))
		f := rep.Steps[1].Fault
		require.Len(t, f.Targets, 1, out)
		require.NotNil(t, f.Reverted, out)
		require.Equal(t, node, f.Targets[0].Name)
		inj := f.Injected.Time
		procs := pr.Agent.Processes()
		var lost []framework.ProcessRecord
		for _, r := range before {
			if r.Node == node && strings.HasPrefix(r.Pod, "recommender-") {
				lost = append(lost, byUID(t, procs, string(r.UID)))
			}
		}
		require.NotEmpty(t, lost, "the failed node ran recommender pods")
		for _, r := range lost {
			require.Contains(t, []framework.StopReason{framework.StopTerminated, framework.StopKilled}, r.Stop, "%+v", r)
			require.False(t, r.TermSent.Before(inj.Add(-skew)), "stopped by the fault")
			require.Equal(t, 2*time.Second, r.Grace, "a pod deleted with grace period 0 gets the kubelet's 2 s")
		}
		repl := started(procs, "us-east", inj.Add(-skew), f.Reverted.Time)
		require.Len(t, repl, len(lost), "a replacement per pod that lost its GPU")
		for _, r := range repl {
			require.NotEqual(t, node, r.Node, "no replacement runs on the node without GPUs")
			require.Eventually(t, func() bool { _, ok := models.of(string(r.UID)); return ok }, 10*time.Second, 50*time.Millisecond)
			m, _ := models.of(string(r.UID))
			require.NoError(t, m.err)
			require.Equal(t, b.model.Version, m.info.Version, "replacement %s loaded the published model", r.Pod)
		}
		require.NotNil(t, f.Failover.CapacityRTO, out)
		require.False(t, f.Failover.Instants.Ready.Time.Before(latestReady(t, repl).Add(-skew)),
			"capacity is back no earlier than the last replacement is Ready")
		n, err := c.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		require.NoError(t, err)
		gpus := n.Status.Allocatable[framework.GPUResource]
		require.Equal(t, int64(4), gpus.Value(), "the revert gives the GPUs back")
		require.False(t, slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == v1alpha1.DefaultGPUTaintKey }), "and removes the taint")
		t.Logf("measure: gpu failure of %s through the Service: %s; %d processes exited %s after the injection, replacements Ready %s after",
			node, rtos(f.Failover), len(lost), latestExit(lost).Sub(inj).Round(time.Millisecond), latestReady(t, repl).Sub(inj).Round(time.Millisecond))
	})

	t.Run("store outage: a replica restarted during the outage comes up from its cache", func(t *testing.T) {
		settleCluster(ctx, t, c)
		rep, out := run(t, "svc-store", endpoint, `    - name: store
      fault:
        modelStoreOutage: {mode: unavailable, restartReplicas: 1}
        duration: 8s
`)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		inj, rev := f.Injected.Time, f.Reverted.Time
		procs := pr.Agent.Processes()
		var stopped, back []framework.ProcessRecord
		for _, r := range procs {
			switch {
			case !strings.HasPrefix(r.Pod, framework.ModelStoreName+"-"):
			case !r.TermSent.IsZero() && !r.TermSent.Before(inj.Add(-skew)) && r.TermSent.Before(rev):
				stopped = append(stopped, r)
			case !r.Started.Before(rev.Add(-skew)):
				back = append(back, r)
			}
		}
		require.Len(t, stopped, 1, "the store's process was stopped by the outage")
		require.Equal(t, framework.StopTerminated, stopped[0].Stop)
		require.Len(t, back, 1, "and a new one started on the revert")
		repl := append(started(procs, "us-east", inj.Add(-skew), rev), started(procs, "us-west", inj.Add(-skew), rev)...)
		require.Len(t, repl, 1, "one replica restarted inside the outage")
		require.Eventually(t, func() bool { _, ok := models.of(string(repl[0].UID)); return ok }, 10*time.Second, 50*time.Millisecond)
		m, _ := models.of(string(repl[0].UID))
		require.NoError(t, m.err)
		require.True(t, m.at.Before(rev), "asked during the outage")
		require.Contains(t, []serve.Source{serve.SourceCache, serve.SourceFallback}, m.info.Source,
			"with the store down the replica served its node's cache or the fallback, not the store: %+v", m.info)
		if m.info.Source == serve.SourceCache {
			require.Equal(t, b.model.Version, m.info.Version)
		}
		t.Logf("measure: store outage through the Service: failover %s; fail-back %s; restarted replica %s Ready %s after the outage began, serving from %s (version %s)",
			rtos(f.Failover), afterRevertRTOs(f.Failback), repl[0].Pod, repl[0].Ready.Sub(inj).Round(time.Millisecond), m.info.Source, m.info.Version)
	})

	t.Run("cutover by Service selector: traffic moves to us-west and fails back", func(t *testing.T) {
		settleCluster(ctx, t, c)
		sw := watchSwitch(ctx, t, func(ctx context.Context) (string, error) {
			s, err := c.Clientset.CoreV1().Services(ns).Get(ctx, "frontdoor", metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return s.Spec.Selector["region"], nil
		})
		rep, out := run(t, "svc-cutover-service", endpoint, `    - name: cutover
      fault:
        regionCutover: {from: us-east, to: us-west, method: scaleToZero, traffic: manual, switch: {service: {name: frontdoor}}}
        duration: 6s
`)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		moved, back := sw.at("us-west"), sw.after("us-east", sw.at("us-west"))
		require.False(t, moved.IsZero(), "the selector was switched")
		require.False(t, back.IsZero(), "and switched back")
		var before, during []framework.ConnRecord
		// The switch comes seconds after the injection, once us-east is
		// down: connections before the injection can only reach us-east.
		inj := f.Injected.Time
		for _, r := range pr.Proxy.Connections(ns + "/frontdoor") {
			switch {
			case r.At.Before(inj):
				before = append(before, r)
			case r.At.Before(back):
				during = append(during, r)
			}
		}
		for _, r := range before {
			require.True(t, strings.HasPrefix(r.Pod, "recommender-us-east-"), "before the switch the Service selects us-east only, not %s", r.Pod)
		}
		require.True(t, slices.ContainsFunc(during, func(r framework.ConnRecord) bool { return strings.HasPrefix(r.Pod, "recommender-us-west-") }),
			"the probes reached us-west through the Service while us-east was down: %v", during)
		// Established connections stay with their us-west pods after
		// the fail-back, as with kube-proxy; a new one goes to us-east.
		c.WaitReady(ctx, t, ns, framework.RecommenderName("us-east"))
		fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
		require.Eventually(t, func() bool {
			resp, err := fresh.Get(endpoint + "/v1/model")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false
			}
			conns := pr.Proxy.Connections(ns + "/frontdoor")
			return strings.HasPrefix(conns[len(conns)-1].Pod, "recommender-us-east-")
		}, 30*time.Second, 200*time.Millisecond, "a new connection after the fail-back reaches us-east")
		t.Logf("measure: cutover by Service selector: failover %s; fail-back %s; %d connections to us-west during the cutover",
			rtos(f.Failover), afterRevertRTOs(f.Failback), len(during))
	})

	t.Run("cutover by HTTPRoute weights: requests move to us-west and fail back", func(t *testing.T) {
		settleCluster(ctx, t, c)
		gw := installRoute(ctx, t, c, pr)
		rep, out := run(t, "svc-cutover-route", "http://"+gw.Addr(), `    - name: cutover
      fault:
        regionCutover:
          from: us-east
          to: us-west
          method: drain
          traffic: manual
          switch: {httpRoute: {name: frontdoor, backends: [{region: us-east, service: recommender-us-east}, {region: us-west, service: recommender-us-west}]}}
        duration: 6s
`)
		f := rep.Steps[1].Fault
		require.NotNil(t, f.Reverted, out)
		// Each request is checked against the weights the gateway chose
		// it with: no clock is compared.
		const switched, restored = "recommender-us-east=0 recommender-us-west=100", "recommender-us-east=80 recommender-us-west=20"
		during, after := map[string]int{}, map[string]int{}
		seenSwitch := false
		for _, r := range gw.Requests() {
			switch {
			case r.Weights == switched:
				seenSwitch = true
				during[r.Backend]++
			case r.Weights == restored && seenSwitch:
				after[r.Backend]++
			}
		}
		require.True(t, seenSwitch, "the gateway routed requests with the switched weights")
		require.Equal(t, []string{ns + "/recommender-us-west"}, slices.Collect(maps.Keys(during)), "while cut over, every request went to us-west")
		require.Positive(t, after[ns+"/recommender-us-east"], "requests go to us-east again after the fail-back: %v", after)
		t.Logf("measure: cutover by HTTPRoute weights (drain): failover %s; fail-back %s; requests during the cutover %v, after %v",
			rtos(f.Failover), afterRevertRTOs(f.Failback), during, after)
	})
}

// latestExit is the last exit of the given processes.
// busiestNode is the node running the most of a region's recommender
// processes (by name when tied).
func busiestNode(running []framework.ProcessRecord, region string) string {
	perNode := map[string]int{}
	for _, r := range running {
		if strings.HasPrefix(r.Pod, framework.RecommenderName(region)+"-") {
			perNode[r.Node]++
		}
	}
	node := ""
	for n, k := range perNode {
		if node == "" || k > perNode[node] || (k == perNode[node] && n < node) {
			node = n
		}
	}
	return node
}

func latestExit(procs []framework.ProcessRecord) time.Time {
	var last time.Time
	for _, r := range procs {
		if r.Exited.After(last) {
			last = r.Exited
		}
	}
	return last
}

func afterRevertRTOs(r *v1alpha1.Recovery) string {
	if r == nil {
		return "not measured"
	}
	return rtos(r)
}

// switchWatch records when a value (a selector, a route's weights) took
// each value, polling every 20 ms.
type switchWatch struct {
	mu   sync.Mutex
	seen []switchSeen
}

type switchSeen struct {
	at    time.Time
	value string
}

func watchSwitch(ctx context.Context, t *testing.T, read func(context.Context) (string, error)) *switchWatch {
	t.Helper()
	w := &switchWatch{}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		last := ""
		for ctx.Err() == nil {
			if v, err := read(ctx); err == nil && v != last {
				w.mu.Lock()
				w.seen = append(w.seen, switchSeen{at: time.Now(), value: v})
				w.mu.Unlock()
				last = v
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

// at is the first time value was seen; zero if never.
func (w *switchWatch) at(value string) time.Time { return w.after(value, time.Time{}) }

// after is the first time value was seen after from; zero if never.
func (w *switchWatch) after(value string, from time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seen {
		if s.value == value && s.at.After(from) {
			return s.at
		}
	}
	return time.Time{}
}

// routeClient reads and writes HTTPRoutes.
func routeClient(t *testing.T, c *framework.Cluster) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, gatewayv1.Install(scheme))
	gc, err := client.New(c.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return gc
}

// installRoute installs the Gateway API CRDs, a Service per region and the
// HTTPRoute frontdoor sending 80% of requests to us-east and 20% to
// us-west, and starts a Gateway following it.
func installRoute(ctx context.Context, t *testing.T, c *framework.Cluster, pr *procbed.Processes) *framework.Gateway {
	t.Helper()
	c.InstallGatewayAPI(ctx, t)
	for _, region := range []string{"us-east", "us-west"} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: framework.RecommenderName(region)},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "recommender", "region": region},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		}
		_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		require.NoError(t, err)
		pr.ServiceURL(ctx, t, ns, svc.Name, 80)
	}
	ref := func(svc string, weight int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(svc), Port: ptr.To(gatewayv1.PortNumber(80))},
			Weight:                 ptr.To(weight),
		}}
	}
	rt := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			BackendRefs: []gatewayv1.HTTPBackendRef{ref("recommender-us-east", 80), ref("recommender-us-west", 20)},
		}}},
	}
	require.NoError(t, routeClient(t, c).Create(ctx, rt))
	gw := pr.StartGateway(ctx, t, ns, "frontdoor")
	require.Eventually(t, func() bool {
		code, _, err := get(ctx, "http://"+gw.Addr()+"/v1/model")
		return err == nil && code == 200
	}, 30*time.Second, 100*time.Millisecond, "the gateway routes")
	return gw
}
