package bulk

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// bulkWorkers is how many objects the bulk helpers create at once.
const bulkWorkers = 16

// RegionNodes returns count GPU node specs of one region, named
// <region>-gpu-0001 and spread over three zones <region>-a, -b and -c.
func RegionNodes(region string, count, gpus int) []framework.NodeSpec {
	specs := make([]framework.NodeSpec, count)
	for i := range specs {
		specs[i] = framework.NodeSpec{
			Name:   fmt.Sprintf("%s-gpu-%04d", region, i+1),
			Region: region,
			Zone:   region + "-" + string(rune('a'+i%3)),
			GPUs:   gpus,
		}
	}
	return specs
}

// AddNodes creates many nodes on c, bulkWorkers at a time, and waits until
// kwok reports every one Ready, checking with one List per poll instead of
// a Get per node. Nodes are as Cluster.AddNodes makes them; unlike it, every
// spec must have a name. It returns how long creation and readiness took.
func AddNodes(ctx context.Context, tb testing.TB, c *framework.Cluster, specs []framework.NodeSpec) time.Duration {
	tb.Helper()
	begin := time.Now()
	err := forEach(ctx, len(specs), func(ctx context.Context, i int) error {
		s := specs[i]
		if s.Name == "" {
			return fmt.Errorf("node spec %d has no name", i)
		}
		node, err := s.Node()
		if err != nil {
			return err
		}
		status := node.Status
		created, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating node %s: %w", s.Name, err)
		}
		if created.Status.Capacity.Name(workloads.GPUResource, resource.DecimalSI).Value() != int64(s.GPUs) {
			created.Status.Capacity, created.Status.Allocatable = status.Capacity, status.Allocatable
			if _, err := c.Clientset.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("setting capacity of node %s: %w", s.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("adding %d nodes: %v", len(specs), err)
	}
	want := map[string]bool{}
	for _, s := range specs {
		want[s.Name] = true
	}
	notReady := len(want)
	err = poll(ctx, 5*time.Minute, func(ctx context.Context) (bool, error) {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err
		}
		notReady = len(want)
		for i := range nodes.Items {
			if want[nodes.Items[i].Name] && framework.NodeReady(&nodes.Items[i]) {
				notReady--
			}
		}
		return notReady == 0, nil
	})
	if err != nil {
		tb.Fatalf("waiting for %d nodes to become Ready (%d are not): %v\n%s", len(specs), notReady, err, c.LogTail("kwok"))
	}
	return time.Since(begin)
}

// CreateAll creates Deployments and PodDisruptionBudgets, bulkWorkers at a
// time. It does not wait; call WaitAllReady.
func CreateAll(ctx context.Context, tb testing.TB, c *framework.Cluster, deps []*appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget) {
	tb.Helper()
	err := forEach(ctx, len(pdbs), func(ctx context.Context, i int) error {
		p := pdbs[i]
		if _, err := c.Clientset.PolicyV1().PodDisruptionBudgets(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating PodDisruptionBudget %s/%s: %w", p.Namespace, p.Name, err)
		}
		return nil
	})
	if err == nil {
		err = forEach(ctx, len(deps), func(ctx context.Context, i int) error {
			d := deps[i]
			if _, err := c.Clientset.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating Deployment %s/%s: %w", d.Namespace, d.Name, err)
			}
			return nil
		})
	}
	if err != nil {
		tb.Fatalf("creating workloads: %v", err)
	}
}

// WaitAllReady waits until every Deployment of namespace ns is ready (see
// workloads.DeploymentReady), checking with one List per second, and returns how long
// that took. It fails the test after timeout with the Deployments that are
// not ready and a count of the namespace's pods by phase.
func WaitAllReady(ctx context.Context, tb testing.TB, c *framework.Cluster, ns string, timeout time.Duration) time.Duration {
	tb.Helper()
	begin := time.Now()
	var pending []string
	err := pollEvery(ctx, time.Second, timeout, func(ctx context.Context) (bool, error) {
		deps, err := c.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pending = pending[:0]
		for i := range deps.Items {
			d := &deps.Items[i]
			if !workloads.DeploymentReady(d) {
				pending = append(pending, fmt.Sprintf("%s (%d/%d ready)", d.Name, d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 1)))
			}
		}
		return len(deps.Items) > 0 && len(pending) == 0, nil
	})
	if err != nil {
		tb.Fatalf("waiting for the Deployments of %s to become ready: %v\nnot ready: %s\npods: %s",
			ns, err, strings.Join(pending, ", "), PodPhases(ctx, c, ns))
	}
	return time.Since(begin)
}

// PodPhases summarises a namespace's pods as "Pending=3 Running=997", or
// the error that kept it from listing them.
func PodPhases(ctx context.Context, c *framework.Cluster, ns string) string {
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return "listing pods: " + err.Error()
	}
	counts := map[corev1.PodPhase]int{}
	for i := range pods.Items {
		counts[pods.Items[i].Status.Phase]++
	}
	phases := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(phases))
	for i, ph := range phases {
		parts[i] = fmt.Sprintf("%s=%d", ph, counts[ph])
	}
	return strings.Join(parts, " ")
}

// forEach calls fn for 0..n-1, bulkWorkers at a time, and returns the
// first error; after an error no new call starts.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(bulkWorkers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// poll calls cond every 100 ms until it returns true, an error, or timeout
// passes (as framework's poll does).
func poll(ctx context.Context, timeout time.Duration, cond wait.ConditionWithContextFunc) error {
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		return fmt.Errorf("after %s: %w", timeout, err)
	}
	return nil
}

// pollEvery is poll with its own interval.
func pollEvery(ctx context.Context, interval, timeout time.Duration, cond wait.ConditionWithContextFunc) error {
	if err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, cond); err != nil {
		return fmt.Errorf("after %s: %w", timeout, err)
	}
	return nil
}
