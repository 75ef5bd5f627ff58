package framework

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const (
	// RecommenderPort is the container port of the recommender pods.
	RecommenderPort = 8080
	// ModelStorePort is the port of the model-store Service and pods.
	ModelStorePort = 5000

	// terminationGracePeriod is short so that a drill's deleted pods do not
	// linger for the default 30 s; kwok removes a deleted pod after a random
	// delay between 1 s and this period.
	terminationGracePeriod = 5

	// readyTimeout bounds WaitReady.
	readyTimeout = 3 * time.Minute
)

// kwokToleration lets a pod run on kwok's tainted nodes.
var kwokToleration = corev1.Toleration{
	Key: KwokNodeAnnotation, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
}

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

// RecommenderName returns the name of the recommender Deployment and
// PodDisruptionBudget of a region: recommender-<region>.
func RecommenderName(region string) string { return "recommender-" + region }

// RecommenderDeployment returns the recommender Deployment of a region:
// labels app=recommender and region=<region>, one nvidia.com/gpu per pod,
// placed on GPU nodes of the region, tolerating the kwok taint.
func RecommenderDeployment(ns, region string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "recommender", "region": region}
	gpu := resource.MustParse("1")
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: RecommenderName(region), Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{
						corev1.LabelTopologyRegion: region,
						GPUPresentLabel:            "true",
					},
					Tolerations:                   []corev1.Toleration{kwokToleration},
					TerminationGracePeriodSeconds: ptr.To[int64](terminationGracePeriod),
					Containers: []corev1.Container{{
						Name:  "recommender",
						Image: "ghcr.io/firedrill/recommender:e2e",
						Args:  []string{"serve", "--region=" + region},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: RecommenderPort}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    resource.MustParse("500m"),
								corev1.ResourceMemory: resource.MustParse("1Gi"),
								GPUResource:           gpu,
							},
							// Extended resources cannot be overcommitted:
							// the limit must equal the request.
							Limits: corev1.ResourceList{GPUResource: gpu},
						},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")},
						}},
					}},
				},
			},
		},
	}
}

// RecommenderPDB returns the PodDisruptionBudget of a region's recommender:
// at most one pod unavailable.
func RecommenderPDB(ns, region string) *policyv1.PodDisruptionBudget {
	labels := map[string]string{"app": "recommender", "region": region}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: RecommenderName(region), Namespace: ns, Labels: labels},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: labels},
		},
	}
}

// DeployRecommender creates the recommender Deployment of a region (see
// RecommenderDeployment) and its PodDisruptionBudget (RecommenderPDB). It
// does not wait; call WaitReady.
func (c *Cluster) DeployRecommender(ctx context.Context, tb testing.TB, ns, region string, replicas int32) *appsv1.Deployment {
	tb.Helper()
	return c.deployRecommender(ctx, tb, region, RecommenderDeployment(ns, region, replicas))
}

// deployRecommender creates a region's PodDisruptionBudget and d.
func (c *Cluster) deployRecommender(ctx context.Context, tb testing.TB, region string, d *appsv1.Deployment) *appsv1.Deployment {
	tb.Helper()
	pdb := RecommenderPDB(d.Namespace, region)
	if _, err := c.Clientset.PolicyV1().PodDisruptionBudgets(d.Namespace).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating PodDisruptionBudget %s/%s: %v", d.Namespace, pdb.Name, err)
	}
	created, err := c.Clientset.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
	return created
}

// ModelStoreName is the name of the model store Deployment and Service.
const ModelStoreName = "model-store"

// ModelStoreDeployment returns the model-store Deployment: one replica,
// label app=model-store, no GPU, tolerating the kwok taint.
func ModelStoreDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": ModelStoreName}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: ModelStoreName, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Tolerations:                   []corev1.Toleration{kwokToleration},
					TerminationGracePeriodSeconds: ptr.To[int64](terminationGracePeriod),
					Containers: []corev1.Container{{
						Name:  "registry",
						Image: "docker.io/library/registry:3",
						Ports: []corev1.ContainerPort{{Name: "oci", ContainerPort: ModelStorePort}},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("100m"),
							corev1.ResourceMemory: resource.MustParse("256Mi"),
						}},
					}},
				},
			},
		},
	}
}

// ModelStoreService returns the Service model-store on port 5000 (port
// name oci), as the example plans reference
// (oci://model-store.<ns>.svc:5000).
func ModelStoreService(ns string) *corev1.Service {
	labels := map[string]string{"app": ModelStoreName}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ModelStoreName, Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports: []corev1.ServicePort{{
				Name: "oci", Port: ModelStorePort, TargetPort: intstr.FromString("oci"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// DeployModelStore creates the model-store Deployment (ModelStoreDeployment)
// and its Service (ModelStoreService). It does not wait; call WaitReady.
func (c *Cluster) DeployModelStore(ctx context.Context, tb testing.TB, ns string) *appsv1.Deployment {
	tb.Helper()
	return c.deployModelStore(ctx, tb, ModelStoreDeployment(ns))
}

func (c *Cluster) deployModelStore(ctx context.Context, tb testing.TB, d *appsv1.Deployment) *appsv1.Deployment {
	tb.Helper()
	created, err := c.Clientset.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating Deployment %s/%s: %v", d.Namespace, d.Name, err)
	}
	if _, err := c.Clientset.CoreV1().Services(d.Namespace).Create(ctx, ModelStoreService(d.Namespace), metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating Service %s/%s: %v", d.Namespace, ModelStoreName, err)
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
		return DeploymentReady(d), nil
	})
	if err != nil {
		tb.Fatalf("waiting for Deployment %s/%s to become ready: %v\n%s", ns, deployment, err, c.describe(ctx, ns, last))
	}
}

// DeploymentReady reports whether a Deployment's controller has observed its
// latest generation and all of its desired replicas are Ready.
func DeploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas == want
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
