package workloads

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ProcessLabel marks the pods the node agent runs as real processes. Put
// it on a workload's pod template (any value); kwok then gives such a pod
// its IP and leaves the rest of its lifecycle to the agent.
const ProcessLabel = "e2e.firedrill.dev/process"

const (
	// ModelRepository is the repository and tag the process-backed
	// recommenders pull from the model store.
	ModelRepository = "recommender:prod"

	// nodeCachePath is the hostPath of the recommenders' model cache: a
	// node's replicas share it, so a replica that starts while the store is
	// down can load the model an earlier replica on the node pulled.
	nodeCachePath = "/var/cache/firedrill"
	// storeExport is the NFS export of the model store's data: the store's
	// pods keep their blobs across restarts and nodes, as with a network
	// volume.
	storeServer, storeExport = "nfs.e2e", "/model-store"

	// preStopSleep keeps a terminating pod serving for a second while the
	// EndpointSlice controller and the service proxy take it out of
	// rotation (the usual preStop sleep in front of a graceful shutdown).
	preStopSleep = 1
)

// podIPEnv is the downward API variable every process pod gets.
var podIPEnv = corev1.EnvVar{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}

// ProcessRecommenderDeployment is RecommenderDeployment run by the node
// agent as a real `drill recommender serve` per pod (labelled
// ProcessLabel): it listens on the pod's address, pulls
// recommender:prod from the model-store Service (through the service
// link variables) into the node's cache (a hostPath volume), is Ready when
// its /readyz says so (probed every second), sleeps 1 s in preStop and
// drains for up to 2 s on SIGTERM, within its 5 s grace period.
func ProcessRecommenderDeployment(ns, region string, replicas int32) *appsv1.Deployment {
	d := RecommenderDeployment(ns, region, replicas)
	t := &d.Spec.Template
	t.Labels[ProcessLabel] = "recommender"
	t.Spec.AutomountServiceAccountToken = ptr.To(false)
	t.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: nodeCachePath, Type: ptr.To(corev1.HostPathDirectoryOrCreate),
	}}}}
	c := &t.Spec.Containers[0]
	c.Command = []string{"drill", "recommender", "serve"}
	c.Args = []string{
		"--addr=$(POD_IP):8080",
		"--model-ref=$(MODEL_STORE_SERVICE_HOST):$(MODEL_STORE_SERVICE_PORT)/" + ModelRepository,
		"--cache-dir=" + nodeCachePath,
		"--poll-interval=5s",
		"--store-timeout=1s",
		"--drain-timeout=2s",
	}
	c.Env = []corev1.EnvVar{podIPEnv}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: nodeCachePath}}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
		PeriodSeconds:  1,
		TimeoutSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
	}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: preStopSleep}}}
	return d
}

// ProcessModelStoreDeployment is ModelStoreDeployment run by the node agent
// as a real `drill recommender modelstore` (a CNCF distribution registry)
// on the pod's address, its blobs on an NFS volume so that any store pod
// serves what was pushed before, Ready when /v2/ answers.
func ProcessModelStoreDeployment(ns string) *appsv1.Deployment {
	d := ModelStoreDeployment(ns)
	t := &d.Spec.Template
	t.Labels[ProcessLabel] = "model-store"
	t.Spec.AutomountServiceAccountToken = ptr.To(false)
	t.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{
		Server: storeServer, Path: storeExport,
	}}}}
	c := &t.Spec.Containers[0]
	c.Command = []string{"drill", "recommender", "modelstore"}
	c.Args = []string{"--addr=$(POD_IP):5000", "--root=/var/lib/registry", "--stop-timeout=1s"}
	c.Env = []corev1.EnvVar{podIPEnv}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/registry"}}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/v2/", Port: intstr.FromString("oci")}},
		PeriodSeconds:  1,
		TimeoutSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
	}
	return d
}
