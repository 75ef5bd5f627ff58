package framework

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

const (
	// readyTimeout bounds WaitReady.
	readyTimeout = 3 * time.Minute
)

// CreateNamespace creates a namespace and waits until its default
// ServiceAccount exists, so that pods can be created in it at once.
func (c *Cluster) CreateNamespace(ctx context.Context, tb testing.TB, name string) {
	tb.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating namespace %s: %v", name, err)
	}
	err := poll(ctx, componentTimeout, func(ctx context.Context) (bool, error) {
		_, err := c.Clientset.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	if err != nil {
		tb.Fatalf("waiting for the default ServiceAccount of namespace %s: %v", name, err)
	}
}

// DeployRecommender creates the recommender Deployment of a region (see
// RecommenderDeployment) and its PodDisruptionBudget (workloads.RecommenderPDB). It
// does not wait; call WaitReady.
func (c *Cluster) DeployRecommender(ctx context.Context, tb testing.TB, ns, region string, replicas int32) *appsv1.Deployment {
	tb.Helper()
	return c.deployRecommender(ctx, tb, region, workloads.RecommenderDeployment(ns, region, replicas))
}

// deployRecommender creates a region's PodDisruptionBudget and d.
func (c *Cluster) deployRecommender(ctx context.Context, tb testing.TB, region string, d *appsv1.Deployment) *appsv1.Deployment {
	tb.Helper()
	pdb := workloads.RecommenderPDB(d.Namespace, region)
	if _, err := c.Clientset.PolicyV1().PodDisruptionBudgets(d.Namespace).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating PodDisruptionBudget %s/%s: %v", d.Namespace, pdb.Name, err)
	}
	created, err := c.Clientset.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
	return created
}

// DeployModelStore creates the model-store Deployment (ModelStoreDeployment)
// and its Service (workloads.ModelStoreService). It does not wait; call WaitReady.
func (c *Cluster) DeployModelStore(ctx context.Context, tb testing.TB, ns string) *appsv1.Deployment {
	tb.Helper()
	return c.deployModelStore(ctx, tb, workloads.ModelStoreDeployment(ns))
}

func (c *Cluster) deployModelStore(ctx context.Context, tb testing.TB, d *appsv1.Deployment) *appsv1.Deployment {
	tb.Helper()
	created, err := c.Clientset.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
	if _, err := c.Clientset.CoreV1().Services(d.Namespace).Create(ctx, workloads.ModelStoreService(d.Namespace), metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating Service %s/%s: %v", d.Namespace, workloads.ModelStoreName, err)
	}
	return created
}

// WaitReady waits until the Deployment's controller has seen its latest
// spec and every desired replica is Ready. It fails the test after three
// minutes (or when ctx ends) with the Deployment's status and its pods.
func (c *Cluster) WaitReady(ctx context.Context, tb testing.TB, ns, deployment string) {
	tb.Helper()
	var last *appsv1.Deployment
	err := poll(ctx, readyTimeout, func(ctx context.Context) (bool, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = d
		return workloads.DeploymentReady(d), nil
	})
	if err != nil {
		tb.Fatalf("waiting for Deployment %s/%s to become ready: %v\n%s", ns, deployment, err, c.describe(ctx, ns, last))
	}
}

// describe summarises a Deployment and its pods for a failure message.
func (c *Cluster) describe(ctx context.Context, ns string, d *appsv1.Deployment) string {
	if d == nil {
		return "(deployment never read)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s: generation %d observed %d replicas %d updated %d ready %d available %d\n",
		d.Name, d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas,
		d.Status.ReadyReplicas, d.Status.AvailableReplicas)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return b.String()
	}
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		fmt.Fprintf(&b, "listing pods: %v\n", err)
		return b.String()
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: phase %s node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, cond := range p.Status.Conditions {
			fmt.Fprintf(&b, " %s=%s", cond.Type, cond.Status)
			if cond.Message != "" {
				fmt.Fprintf(&b, "(%s)", cond.Message)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
