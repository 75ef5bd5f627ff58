package framework

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

// DeployProcessRecommender creates workloads.ProcessRecommenderDeployment and the
// region's PodDisruptionBudget. It does not wait; call WaitReady.
func (c *Cluster) DeployProcessRecommender(ctx context.Context, tb testing.TB, ns, region string, replicas int32) *appsv1.Deployment {
	tb.Helper()
	return c.deployRecommender(ctx, tb, region, workloads.ProcessRecommenderDeployment(ns, region, replicas))
}

// DeployProcessModelStore creates workloads.ProcessModelStoreDeployment, placed in
// region unless it is empty, and the model-store Service. It does not
// wait; call WaitReady.
func (c *Cluster) DeployProcessModelStore(ctx context.Context, tb testing.TB, ns, region string) *appsv1.Deployment {
	tb.Helper()
	d := workloads.ProcessModelStoreDeployment(ns)
	if region != "" {
		d.Spec.Template.Spec.NodeSelector = map[string]string{corev1.LabelTopologyRegion: region}
	}
	return c.deployModelStore(ctx, tb, d)
}
