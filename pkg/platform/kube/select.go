package kube

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Well-known names the platform reads.
const (
	// ResourceGPU is the extended resource of NVIDIA's device plugin.
	ResourceGPU corev1.ResourceName = "nvidia.com/gpu"
	// LabelGPUPresent is set by NVIDIA's GPU feature discovery on GPU nodes.
	LabelGPUPresent = "nvidia.com/gpu.present"
	// LabelRegion is the well-known topology label of a node's region.
	LabelRegion = corev1.LabelTopologyRegion
	// labelRegionShort is the short region label workloads often carry.
	labelRegionShort = "region"
)

// isGPUPod says whether any container of the pod requests or is limited
// to a GPU.
func isGPUPod(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if q, ok := c.Resources.Requests[ResourceGPU]; ok && !q.IsZero() {
				return true
			}
			if q, ok := c.Resources.Limits[ResourceGPU]; ok && !q.IsZero() {
				return true
			}
		}
	}
	return false
}

// isGPUNode says whether a node carries a GPU: labelled by GPU feature
// discovery or advertising allocatable GPUs.
func isGPUNode(node *corev1.Node) bool {
	if node.Labels[LabelGPUPresent] == "true" {
		return true
	}
	q, ok := node.Status.Allocatable[ResourceGPU]
	return ok && q.Sign() > 0
}

// regionOfNode is the node's topology region label.
func regionOfNode(node *corev1.Node) string {
	if node == nil {
		return ""
	}
	return node.Labels[LabelRegion]
}

// isRunning says whether a pod runs and is not being deleted.
func isRunning(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil
}

// isReadyNode says whether the node's Ready condition is true.
func isReadyNode(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podFilter selects podKill candidates.
type podFilter struct {
	selector labels.Selector
	region   string
	gpuOnly  bool
}

// matches says whether a pod on node (nil when unscheduled) is a candidate.
func (f podFilter) matches(pod *corev1.Pod, node *corev1.Node) bool {
	if !isRunning(pod) {
		return false
	}
	if f.selector != nil && !f.selector.Matches(labels.Set(pod.Labels)) {
		return false
	}
	// A GPU pod requests a GPU; a CPU pod on a GPU node does not run on
	// one.
	if f.gpuOnly && !isGPUPod(pod) {
		return false
	}
	if f.region != "" {
		r := regionOfNode(node)
		if r == "" {
			r = pod.Labels[LabelRegion]
		}
		if r != f.region {
			return false
		}
	}
	return true
}

// nodeFilter selects nodeDrain and cutover candidates.
type nodeFilter struct {
	selector labels.Selector
	region   string
	gpuOnly  bool
}

// matches says whether a node is a candidate. Nodes already cordoned by
// someone else are not: draining them proves nothing and uncordoning them
// on revert would be wrong. Nodes cordoned by this very fault are, so that
// a resumed run resolves the same targets.
func (f nodeFilter) matches(node *corev1.Node, m mark) bool {
	if f.selector != nil && !f.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if f.region != "" && regionOfNode(node) != f.region {
		return false
	}
	if f.gpuOnly && !isGPUNode(node) {
		return false
	}
	if node.Spec.Unschedulable && ownershipOf(node.Annotations, m) != ours {
		return false
	}
	return true
}

// workloadRegion is the region a workload's pods run in: its own region
// label, or the region its pod template is pinned to by a node selector or
// a required node affinity on the region label. Empty when unknown.
func workloadRegion(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) string {
	for _, k := range []string{LabelRegion, labelRegionShort} {
		if r := objLabels[k]; r != "" {
			return r
		}
	}
	if tmpl == nil {
		return ""
	}
	if r := tmpl.Spec.NodeSelector[LabelRegion]; r != "" {
		return r
	}
	if a := tmpl.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range term.MatchExpressions {
				if e.Key == LabelRegion && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
					return e.Values[0]
				}
			}
		}
	}
	for _, k := range []string{LabelRegion, labelRegionShort} {
		if r := tmpl.Labels[k]; r != "" {
			return r
		}
	}
	return ""
}

// isDaemonSetPod says whether a DaemonSet controls the pod; drains skip
// those.
func isDaemonSetPod(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.OwnerReferences, func(o metav1.OwnerReference) bool {
		return o.Controller != nil && *o.Controller && o.Kind == "DaemonSet"
	})
}

// isMirrorPod says whether the pod mirrors a static pod; drains skip those.
func isMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// isTerminal says whether a pod finished.
func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// replicasOf reads spec.replicas, which defaults to 1.
func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// regionOr is region, or fallback when region is empty: in a multi-cluster
// target, a node or workload without a region of its own belongs to its
// cluster's region.
func regionOr(region, fallback string) string {
	if region == "" {
		return fallback
	}
	return region
}
