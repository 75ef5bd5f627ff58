package workloads

import (
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

	// KwokNodeAnnotation marks the nodes kwok manages (value "fake"); it is
	// also the key of the taint every such node carries, which the
	// workloads of this package tolerate.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"

	// GPUResource is the extended resource a GPU node offers and a GPU pod
	// requests.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"

	// GPUPresentLabel is set to "true" on nodes with GPUs, as NVIDIA's GPU
	// feature discovery does.
	GPUPresentLabel = "nvidia.com/gpu.present"
)

// kwokToleration lets a pod run on kwok's tainted nodes.
var kwokToleration = corev1.Toleration{
	Key: KwokNodeAnnotation, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
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

// DeploymentReady reports whether a Deployment's controller has observed its
// latest generation and all of its desired replicas are Ready.
func DeploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas == want
}
