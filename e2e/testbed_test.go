//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubectl/pkg/drain"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

const (
	ns            = "recsys"
	podStartDelay = 2 * time.Second
)

// TestTestBed brings up one control plane and checks, in order, what the
// Kubernetes platform tests rely on.
func TestTestBed(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()

	begin := time.Now()
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	t.Logf("measure: control plane start %s", time.Since(begin).Round(time.Millisecond))

	t.Run("the API server answers with the built version", func(t *testing.T) {
		v, err := c.Clientset.Discovery().ServerVersion()
		require.NoError(t, err)
		require.Equal(t, "v1.37.2", v.GitVersion)
		kc, err := os.ReadFile(c.Kubeconfig)
		require.NoError(t, err)
		require.Contains(t, string(kc), "certificate-authority-data", "the kubeconfig verifies the server")
	})

	t.Run("GPU nodes in two regions go Ready", func(t *testing.T) {
		begin := time.Now()
		names := c.AddNodes(ctx, t,
			framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
			framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
			framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
			framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", Zone: "us-west-2b", GPUs: 4},
			framework.NodeSpec{Name: "cpu-east-1", Region: "us-east", Zone: "us-east-1a", CPU: "16", Memory: "64Gi"},
		)
		t.Logf("measure: 5 nodes Ready %s", time.Since(begin).Round(time.Millisecond))
		require.Len(t, names, 5)
		for _, name := range names {
			n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			require.True(t, framework.NodeReady(n), "node %s Ready", name)
			require.Equal(t, "fake", n.Annotations[framework.KwokNodeAnnotation])
			require.Contains(t, n.Spec.Taints, corev1.Taint{Key: framework.KwokNodeAnnotation, Value: "fake", Effect: corev1.TaintEffectNoSchedule})
			require.NotEmpty(t, n.Labels[corev1.LabelTopologyRegion])
			require.NotEmpty(t, n.Labels[corev1.LabelTopologyZone])
			gpus := n.Status.Allocatable[framework.GPUResource]
			if strings.HasPrefix(name, "gpu-") {
				require.Equal(t, "true", n.Labels[framework.GPUPresentLabel])
				require.Equal(t, int64(4), gpus.Value(), "allocatable GPUs of %s", name)
			} else {
				require.NotContains(t, n.Labels, framework.GPUPresentLabel)
				require.True(t, gpus.IsZero())
			}
		}
	})

	t.Run("firedrill CRDs are established", func(t *testing.T) {
		c.InstallCRDs(ctx, t)
		c.CreateNamespace(ctx, t, ns)
		var plans v1alpha1.DrillPlanList
		require.NoError(t, c.Client.List(ctx, &plans, client.InNamespace(ns)))
		var runs v1alpha1.DrillRunList
		require.NoError(t, c.Client.List(ctx, &runs, client.InNamespace(ns)))
	})

	t.Run("every example plan passes a server-side dry-run apply", func(t *testing.T) {
		root, err := framework.RepoRoot()
		require.NoError(t, err)
		files, err := filepath.Glob(filepath.Join(root, "drills", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				objs, err := framework.ReadObjects(f)
				require.NoError(t, err)
				require.Len(t, objs, 1, "one DrillPlan per file")
				u := objs[0]
				require.Equal(t, v1alpha1.GroupVersion.String(), u.GetAPIVersion())
				require.Equal(t, v1alpha1.KindDrillPlan, u.GetKind())
				u.SetNamespace(ns)
				err = c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
					framework.FieldOwner, client.ForceOwnership, client.DryRunAll)
				require.NoError(t, err, "the API server rejects %s", f)
			})
		}
		var plans v1alpha1.DrillPlanList
		require.NoError(t, c.Client.List(ctx, &plans, client.InNamespace(ns)))
		require.Empty(t, plans.Items, "a dry run stores nothing")
	})

	t.Run("a plan with an unknown field is rejected", func(t *testing.T) {
		root, err := framework.RepoRoot()
		require.NoError(t, err)
		objs, err := framework.ReadObjects(filepath.Join(root, "drills", "gpu-pod-kill.yaml"))
		require.NoError(t, err)
		u := objs[0]
		u.SetNamespace(ns)
		require.NoError(t, unstructured.SetNestedField(u.Object, "bogus", "spec", "notAField"))
		err = c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			framework.FieldOwner, client.ForceOwnership, client.DryRunAll)
		require.Error(t, err, "the dry run must be able to fail")
	})

	timings := watchPodTimings(ctx, t, c, ns)

	t.Run("recommenders and the model store are scheduled and become Ready", func(t *testing.T) {
		begin := time.Now()
		east := c.DeployRecommender(ctx, t, ns, "us-east", 4)
		west := c.DeployRecommender(ctx, t, ns, "us-west", 2)
		store := c.DeployModelStore(ctx, t, ns)
		for _, d := range []string{east.Name, west.Name, store.Name} {
			c.WaitReady(ctx, t, ns, d)
		}
		t.Logf("measure: 7 pods created→all Ready %s", time.Since(begin).Round(time.Millisecond))

		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=recommender"})
		require.NoError(t, err)
		require.Len(t, pods.Items, 6)
		for _, p := range pods.Items {
			node, err := c.Clientset.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, p.Labels["region"], node.Labels[corev1.LabelTopologyRegion], "pod %s runs in its region", p.Name)
			require.Equal(t, "true", node.Labels[framework.GPUPresentLabel])
			require.True(t, strings.HasPrefix(p.Status.PodIP, "127.42."), "pod IP %s from the pod CIDR", p.Status.PodIP)
			require.NotEqual(t, framework.NodeIP, p.Status.PodIP)
		}
		for _, name := range []string{east.Name, west.Name} {
			pdb, err := c.Clientset.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
		}

		for _, tm := range timings.all() {
			require.False(t, tm.ready.IsZero(), "pod %s Ready", tm.name)
			d := tm.ready.Sub(tm.scheduled)
			t.Logf("measure: pod %s scheduled→Ready %s", tm.name, d.Round(time.Millisecond))
			// Lower bound only: a timing never gates, but Ready before the
			// stage delay would mean the stages are misconfigured.
			require.GreaterOrEqual(t, d, podStartDelay-250*time.Millisecond, "pod %s Ready before its start delay", tm.name)
		}
		rss, err := c.MemoryRSS()
		require.NoError(t, err)
		var total uint64
		for name, b := range rss {
			t.Logf("measure: RSS %s %d MiB", name, b>>20)
			total += b
		}
		t.Logf("measure: RSS control plane total %d MiB", total>>20)
	})

	t.Run("the Eviction API refuses a second disruption the PDB does not allow", func(t *testing.T) {
		name := framework.RecommenderName("us-east")
		waitDisruptionsAllowed(ctx, t, c, name, 1)
		pods := activePods(ctx, t, c, "app=recommender,region=us-east")
		require.Len(t, pods, 4)

		require.NoError(t, evict(ctx, c, pods[0]), "first eviction")
		err := evict(ctx, c, pods[1])
		require.Error(t, err, "second eviction while one pod is down")
		require.True(t, apierrors.IsTooManyRequests(err), "429 from the PDB, got %v", err)

		c.WaitReady(ctx, t, ns, name)
		waitDisruptionsAllowed(ctx, t, c, name, 1)
	})

	t.Run("draining a GPU node respects the PDB and the pods move", func(t *testing.T) {
		name := framework.RecommenderName("us-east")
		const replicas = 4
		waitDisruptionsAllowed(ctx, t, c, name, 1)
		pods := activePods(ctx, t, c, "app=recommender,region=us-east")
		perNode := map[string]int{}
		for _, p := range pods {
			perNode[p.Spec.NodeName]++
		}
		target := ""
		for node, n := range perNode {
			if target == "" || n > perNode[target] || (n == perNode[target] && node < target) {
				target = node
			}
		}
		t.Logf("draining %s which runs %d of %d us-east pods", target, perNode[target], replicas)
		require.GreaterOrEqual(t, perNode[target], 1)

		minHealthy := healthyFloor(ctx, t, c, "app=recommender,region=us-east")
		h := &drain.Helper{
			Ctx:                  ctx,
			Client:               c.Clientset,
			GracePeriodSeconds:   -1,
			IgnoreAllDaemonSets:  true,
			DeleteEmptyDirData:   true,
			Timeout:              3 * time.Minute,
			EvictErrorRetryDelay: time.Second,
			Out:                  logWriter{t},
			ErrOut:               logWriter{t},
		}
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{})
		require.NoError(t, err)
		begin := time.Now()
		require.NoError(t, drain.RunCordonOrUncordon(h, node, true))
		require.NoError(t, drain.RunNodeDrain(h, target))
		drained := time.Since(begin)
		c.WaitReady(ctx, t, ns, name)
		recovered := time.Since(begin)
		t.Logf("measure: drain of %s (%d pods) %s; deployment Ready again after %s",
			target, perNode[target], drained.Round(time.Millisecond), recovered.Round(time.Millisecond))

		require.GreaterOrEqual(t, minHealthy(), replicas-1, "never more than maxUnavailable pods down")
		if perNode[target] > 1 {
			require.GreaterOrEqual(t, drained, podStartDelay, "the drain waited for a replacement before the next eviction")
		}
		for _, p := range activePods(ctx, t, c, "app=recommender,region=us-east") {
			require.NotEqual(t, target, p.Spec.NodeName, "pod %s left the drained node", p.Name)
		}
		node, err = c.Clientset.CoreV1().Nodes().Get(ctx, target, metav1.GetOptions{})
		require.NoError(t, err)
		require.True(t, node.Spec.Unschedulable, "node stays cordoned")
	})
}

// TestTwoClustersSideBySide starts two control planes at once, checks they
// are separate, and that stopping them leaves no process behind.
func TestTwoClustersSideBySide(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var mu sync.Mutex
	pids := map[string]int{}
	urls := map[string]bool{}
	t.Run("run", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprintf("cluster-%d", i), func(t *testing.T) {
				t.Parallel()
				c := framework.Start(ctx, t, framework.Options{})
				node := fmt.Sprintf("only-in-%d", i)
				c.AddNodes(ctx, t, framework.NodeSpec{Name: node, Region: "r", GPUs: 1})
				nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				require.NoError(t, err)
				require.Len(t, nodes.Items, 1, "the clusters share nothing")
				require.Equal(t, node, nodes.Items[0].Name)
				mu.Lock()
				defer mu.Unlock()
				urls[c.APIServerURL] = true
				for name, pid := range c.PIDs() {
					pids[fmt.Sprintf("%d/%s", i, name)] = pid
				}
			})
		}
	})
	require.Len(t, urls, 2)
	require.Len(t, pids, 10)
	for name, pid := range pids {
		err := syscall.Kill(pid, 0)
		require.ErrorIs(t, err, syscall.ESRCH, "%s (pid %d) still running after cleanup", name, pid)
	}
}

// podTiming records when the test saw a pod scheduled and Ready.
type podTiming struct {
	name             string
	scheduled, ready time.Time
}

type podTimings struct {
	mu   sync.Mutex
	pods map[string]*podTiming
}

func (p *podTimings) all() []podTiming {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]podTiming, 0, len(p.pods))
	for _, tm := range p.pods {
		out = append(out, *tm)
	}
	slices.SortFunc(out, func(a, b podTiming) int { return strings.Compare(a.name, b.name) })
	return out
}

// watchPodTimings records, through an informer, the instant each pod of ns
// is first seen bound to a node and first seen Ready.
func watchPodTimings(ctx context.Context, t *testing.T, c *framework.Cluster, ns string) *podTimings {
	t.Helper()
	pt := &podTimings{pods: map[string]*podTiming{}}
	record := func(obj any) {
		now := time.Now()
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		pt.mu.Lock()
		defer pt.mu.Unlock()
		tm := pt.pods[p.Name]
		if tm == nil {
			tm = &podTiming{name: p.Name}
			pt.pods[p.Name] = tm
		}
		if tm.scheduled.IsZero() && p.Spec.NodeName != "" {
			tm.scheduled = now
		}
		if tm.ready.IsZero() && podReady(p) {
			tm.ready = now
		}
	}
	f := informers.NewSharedInformerFactoryWithOptions(c.Clientset, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	})
	require.NoError(t, err)
	ictx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); f.Shutdown() })
	f.Start(ictx.Done())
	require.True(t, cache.WaitForCacheSync(ictx.Done(), inf.HasSynced))
	return pt
}

// healthyFloor polls the pods matching selector until the test ends and
// returns a function reporting the lowest number of Ready, non-terminating
// pods seen so far.
func healthyFloor(ctx context.Context, t *testing.T, c *framework.Cluster, selector string) func() int {
	t.Helper()
	var mu sync.Mutex
	floor := -1
	sample := func() {
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return
		}
		n := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && podReady(&p) {
				n++
			}
		}
		mu.Lock()
		if floor < 0 || n < floor {
			floor = n
		}
		mu.Unlock()
	}
	sample()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return floor
	}
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// activePods lists the non-terminating pods matching selector, by name.
func activePods(ctx context.Context, t *testing.T, c *framework.Cluster, selector string) []corev1.Pod {
	t.Helper()
	sel, err := labels.Parse(selector)
	require.NoError(t, err)
	list, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	require.NoError(t, err)
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// waitDisruptionsAllowed waits until the disruption controller reports want
// allowed disruptions for the PDB.
func waitDisruptionsAllowed(ctx context.Context, t *testing.T, c *framework.Cluster, name string, want int32) {
	t.Helper()
	require.Eventually(t, func() bool {
		pdb, err := c.Clientset.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && pdb.Status.ObservedGeneration >= pdb.Generation && pdb.Status.DisruptionsAllowed == want
	}, time.Minute, 100*time.Millisecond, "PDB %s allows %d disruptions", name, want)
}

// evict asks the Eviction API to evict a pod.
func evict(ctx context.Context, c *framework.Cluster, p corev1.Pod) error {
	if err := c.Clientset.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
	}); err != nil {
		return fmt.Errorf("evicting %s: %w", p.Name, err)
	}
	return nil
}

// logWriter sends drain's progress output to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
