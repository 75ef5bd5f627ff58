package objects

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
)

// Well-known names the platform reads.
const (
	// ResourceGPU is the extended resource of NVIDIA's device plugin.
	ResourceGPU corev1.ResourceName = "nvidia.com/gpu"
	// LabelGPUPresent is set by NVIDIA's GPU feature discovery on GPU nodes.
	LabelGPUPresent = "nvidia.com/gpu.present"
	// LabelRegion is the well-known topology label of a node's region.
	LabelRegion = corev1.LabelTopologyRegion
	// LabelRegionShort is the short region label workloads often carry.
	LabelRegionShort = "region"
)

// IsGPUPod says whether any container of the pod requests or is limited
// to a GPU.
func IsGPUPod(pod *corev1.Pod) bool {
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

// IsGPUNode says whether a node carries a GPU: labelled by GPU feature
// discovery or advertising allocatable GPUs.
func IsGPUNode(node *corev1.Node) bool {
	if node.Labels[LabelGPUPresent] == "true" {
		return true
	}
	q, ok := node.Status.Allocatable[ResourceGPU]
	return ok && q.Sign() > 0
}

// RegionOfNode is the node's topology region label.
func RegionOfNode(node *corev1.Node) string {
	if node == nil {
		return ""
	}
	return node.Labels[LabelRegion]
}

// IsRunning says whether a pod runs and is not being deleted.
func IsRunning(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil
}

// IsReadyNode says whether the node's Ready condition is true.
func IsReadyNode(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodFilter selects podKill candidates.
type PodFilter struct {
	// Selector matches pod labels; nil matches every pod.
	Selector labels.Selector
	// Region keeps pods in that region; empty keeps every region.
	Region string
	// GPUOnly keeps pods that request a GPU.
	GPUOnly bool
	// Scope says which region a node without a region label is in.
	Scope Scope
}

// Matches says whether a pod on node (nil when unscheduled) is a candidate.
func (f PodFilter) Matches(pod *corev1.Pod, node *corev1.Node) bool {
	if !IsRunning(pod) {
		return false
	}
	if f.Selector != nil && !f.Selector.Matches(labels.Set(pod.Labels)) {
		return false
	}
	// A GPU pod requests a GPU; a CPU pod on a GPU node does not run on
	// one.
	if f.GPUOnly && !IsGPUPod(pod) {
		return false
	}
	if f.Region != "" {
		r := RegionOfNode(node)
		if r == "" {
			r = pod.Labels[LabelRegion]
		}
		if RegionOr(r, f.Scope.Cluster) != f.Region {
			return false
		}
	}
	return true
}

// NodeFilter selects nodeDrain and cutover candidates.
type NodeFilter struct {
	// Selector matches node labels; nil matches every node.
	Selector labels.Selector
	// Region keeps nodes in that region; empty keeps every region.
	Region string
	// GPUOnly keeps GPU nodes.
	GPUOnly bool
	// Scope says which region a node without a region label is in.
	Scope Scope
}

// Matches says whether a node is a candidate of fault m. Nodes already
// cordoned by someone else are not: draining them proves nothing and
// uncordoning them on revert would be wrong. Nodes cordoned by this very
// fault are, so that a resumed run resolves the same targets.
func (f NodeFilter) Matches(node *corev1.Node, m marks.Mark) bool {
	if f.Selector != nil && !f.Selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if f.Region != "" && f.Scope.NodeRegion(node) != f.Region {
		return false
	}
	if f.GPUOnly && !IsGPUNode(node) {
		return false
	}
	if node.Spec.Unschedulable && marks.OwnershipOf(node.Annotations, m) != marks.Ours {
		return false
	}
	return true
}

// WorkloadRegion is the region a workload's pods run in: its own region
// label, or the region its pod template is pinned to by a node selector or
// a required node affinity on the region label. Empty when unknown.
func WorkloadRegion(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) string {
	for _, k := range []string{LabelRegion, LabelRegionShort} {
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
	for _, k := range []string{LabelRegion, LabelRegionShort} {
		if r := tmpl.Labels[k]; r != "" {
			return r
		}
	}
	return ""
}

// Scope says what a region is. On one cluster a region is the nodes
// labelled with it and the workloads pinned to it. In a multi-cluster
// target the cluster is a region: its nodes and workloads without a region
// of their own belong to it.
type Scope struct {
	// Cluster is the region of the whole cluster; empty on one cluster.
	Cluster string
}

// NodeRegion is the region of a node in this scope.
func (s Scope) NodeRegion(n *corev1.Node) string { return RegionOr(RegionOfNode(n), s.Cluster) }

// WorkloadRegion is the region of a workload in this scope.
func (s Scope) WorkloadRegion(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) string {
	return RegionOr(WorkloadRegion(objLabels, tmpl), s.Cluster)
}

// IsDaemonSetPod says whether a DaemonSet controls the pod; drains skip
// those.
func IsDaemonSetPod(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.OwnerReferences, func(o metav1.OwnerReference) bool {
		return o.Controller != nil && *o.Controller && o.Kind == "DaemonSet"
	})
}

// IsMirrorPod says whether the pod mirrors a static pod; drains skip those.
func IsMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// IsTerminal says whether a pod finished.
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// ReplicasOf reads spec.replicas, which defaults to 1.
func ReplicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// RegionOr is region, or fallback when region is empty: in a multi-cluster
// target, a node or workload without a region of its own belongs to its
// cluster's region.
func RegionOr(region, fallback string) string {
	if region == "" {
		return fallback
	}
	return region
}
