package marks

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// AnnotationGPUFailure holds, on a node whose GPUs a gpuFailure failed,
// the GPURecord of what the failure changed, as JSON.
const AnnotationGPUFailure = "firedrill.dev/gpu-failure"

// resourceGPU is NVIDIA's device plugin resource, as package objects
// names it (marks imports no other kube package).
const resourceGPU = "nvidia.com/gpu"

// GPURecord is what a GPU failure changed on a node, kept in its marks so
// that any later process can restore it.
type GPURecord struct {
	// Allocatable is the node's nvidia.com/gpu allocatable before the
	// failure.
	Allocatable int64 `json:"allocatable"`
	// Failed is how many GPUs failed: the failure sets allocatable to
	// Allocatable-Failed.
	Failed int64 `json:"failed"`
	// Taint is the key of the NoExecute taint the failure added; empty
	// when it added none (some GPUs survived, or the node already had it).
	Taint string `json:"taint,omitempty"`
}

// Remaining is the allocatable the failure sets.
func (r GPURecord) Remaining() int64 { return r.Allocatable - r.Failed }

// ReadGPURecord reads a node's GPU failure record; ok is false when the
// node carries none.
func ReadGPURecord(annotations map[string]string) (GPURecord, bool, error) {
	v, ok := annotations[AnnotationGPUFailure]
	if !ok {
		return GPURecord{}, false, nil
	}
	var r GPURecord
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.Failed < 1 || r.Failed > r.Allocatable {
		return GPURecord{}, true, fmt.Errorf("annotation %s=%q is not a GPU failure record: restore the node's %s allocatable by hand", AnnotationGPUFailure, v, resourceGPU)
	}
	return r, true, nil
}

// GPUFailurePatch is the merge patch that marks a node with m and its GPU
// failure record, guarded by resourceVersion. It changes nothing else:
// the allocatable is in the status subresource (AllocatablePatch) and
// the taint goes on last (TaintsPatch), both after the record is written.
func GPUFailurePatch(m Mark, r GPURecord, resourceVersion string) (map[string]any, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the GPU failure record: %w", err)
	}
	ann := map[string]any{AnnotationGPUFailure: string(data)}
	for k, v := range m.Annotations() {
		ann[k] = v
	}
	return map[string]any{"metadata": map[string]any{"resourceVersion": resourceVersion, "annotations": ann}}, nil
}

// AllocatablePatch is the merge patch of a node's status that sets its
// nvidia.com/gpu allocatable, guarded by resourceVersion.
func AllocatablePatch(gpus int64, resourceVersion string) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"resourceVersion": resourceVersion},
		"status":   map[string]any{"allocatable": map[string]any{resourceGPU: strconv.FormatInt(gpus, 10)}},
	}
}

// TaintsPatch is the merge patch that sets a node's taints, guarded by
// resourceVersion (a merge patch replaces the whole list).
func TaintsPatch(taints []corev1.Taint, resourceVersion string) map[string]any {
	if taints == nil {
		taints = []corev1.Taint{}
	}
	return map[string]any{
		"metadata": map[string]any{"resourceVersion": resourceVersion},
		"spec":     map[string]any{"taints": taints},
	}
}

// RestoreGPUPatch removes the marks and the GPU failure record of a node
// and sets its taints (without the one the failure added), guarded by
// resourceVersion.
func RestoreGPUPatch(taints []corev1.Taint, resourceVersion string) map[string]any {
	p := TaintsPatch(taints, resourceVersion)
	p["metadata"].(map[string]any)["annotations"] = map[string]any{
		AnnotationRunID: nil, AnnotationFault: nil, AnnotationHeartbeat: nil, AnnotationGPUFailure: nil,
	}
	return p
}
