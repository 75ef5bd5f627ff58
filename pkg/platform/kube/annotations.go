package kube

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations firedrill writes on the objects it changes, so that any later
// process can find and restore them.
const (
	// AnnotationRunID names the run that changed the object.
	AnnotationRunID = "firedrill.dev/run-id"
	// AnnotationFault names the fault (step) of that run.
	AnnotationFault = "firedrill.dev/fault"
	// AnnotationWasUnschedulable holds a node's spec.unschedulable before
	// the drill cordoned it ("true" or "false").
	AnnotationWasUnschedulable = "firedrill.dev/was-unschedulable"
	// AnnotationReplicas holds a workload's spec.replicas before the drill
	// scaled it.
	AnnotationReplicas = "firedrill.dev/replicas"
	// AnnotationStore names, on the objects a model store outage creates,
	// the store workload they cut off (Kind/namespace/name).
	AnnotationStore = "firedrill.dev/store"
	// LabelRunID labels objects firedrill creates (Chaos Mesh objects,
	// NetworkPolicies) with their run, made a valid label value; the
	// annotation AnnotationRunID holds it verbatim.
	LabelRunID = "firedrill.dev/run-id"
	// LabelFault labels objects firedrill creates with their fault.
	LabelFault = "firedrill.dev/fault"
)

// mark is the bookkeeping of one fault on one object.
type mark struct {
	RunID string
	Fault string
}

// owner says which run and fault changed an object, from its annotations.
// ok is false when no firedrill run touched it.
func owner(annotations map[string]string) (mark, bool) {
	run, ok := annotations[AnnotationRunID]
	if !ok || run == "" {
		return mark{}, false
	}
	return mark{RunID: run, Fault: annotations[AnnotationFault]}, true
}

// markCreated labels and annotates an object firedrill creates, so that
// Marked finds it by label and owner reads the exact run and fault.
func markCreated(obj metav1.Object, m mark) {
	lbls := obj.GetLabels()
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[LabelRunID] = labelValue(m.RunID)
	lbls[LabelFault] = labelValue(m.Fault)
	obj.SetLabels(lbls)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationRunID] = m.RunID
	ann[AnnotationFault] = m.Fault
	obj.SetAnnotations(ann)
}

// createdOwner says which run and fault created an object: from its
// annotations, else (objects of older versions) from its labels.
func createdOwner(obj metav1.Object) (mark, bool) {
	if m, ok := owner(obj.GetAnnotations()); ok {
		return m, true
	}
	lbls := obj.GetLabels()
	if run := lbls[LabelRunID]; run != "" {
		return mark{RunID: run, Fault: lbls[LabelFault]}, true
	}
	return mark{}, false
}

// createdBy says whether an object was created for fault m. Labels hold
// sanitised values, so they are compared as such.
func createdBy(obj metav1.Object, m mark) bool {
	got, ok := createdOwner(obj)
	if !ok {
		return false
	}
	if got == m {
		return true
	}
	_, annotated := owner(obj.GetAnnotations())
	return !annotated && got.RunID == labelValue(m.RunID) && got.Fault == labelValue(m.Fault)
}

// ownership classifies an object's marks against the fault about to act on
// it.
type ownership int

const (
	// unowned objects carry no firedrill marks.
	unowned ownership = iota
	// ours are marked by this very run and fault: a repeated inject.
	ours
	// foreign objects are marked by another run or fault.
	foreign
)

func ownershipOf(annotations map[string]string, m mark) ownership {
	got, ok := owner(annotations)
	switch {
	case !ok:
		return unowned
	case got == m:
		return ours
	default:
		return foreign
	}
}

// cordonPatch is the merge patch that records a node's prior state and
// cordons it, guarded by resourceVersion so a concurrent change fails.
func cordonPatch(m mark, wasUnschedulable bool, resourceVersion string) map[string]any {
	return markPatch(m, AnnotationWasUnschedulable, strconv.FormatBool(wasUnschedulable), resourceVersion,
		map[string]any{"unschedulable": true})
}

// markPatch is a merge patch that marks an object with m and its record
// (the state firedrill changes, kept in annotation key) and changes spec,
// guarded by resourceVersion so that a concurrent change fails.
func markPatch(m mark, key, record, resourceVersion string, spec map[string]any) map[string]any {
	return map[string]any{
		"metadata": map[string]any{
			"resourceVersion": resourceVersion,
			"annotations":     map[string]any{AnnotationRunID: m.RunID, AnnotationFault: m.Fault, key: record},
		},
		"spec": spec,
	}
}

// unmarkPatch is a merge patch that removes the marks and the record in
// annotation key and changes spec back, guarded by resourceVersion.
func unmarkPatch(key, resourceVersion string, spec map[string]any) map[string]any {
	return map[string]any{
		"metadata": map[string]any{
			"resourceVersion": resourceVersion,
			"annotations":     map[string]any{AnnotationRunID: nil, AnnotationFault: nil, key: nil},
		},
		"spec": spec,
	}
}

// uncordonPatch restores a node's prior schedulability and removes the
// marks. A node without a readable prior state is made schedulable: the
// drill only cordons nodes that were schedulable.
func uncordonPatch(annotations map[string]string, resourceVersion string) map[string]any {
	was, err := strconv.ParseBool(annotations[AnnotationWasUnschedulable])
	if err != nil {
		was = false
	}
	var unschedulable any = was
	if !was {
		unschedulable = nil // drop the field, as kubectl uncordon does
	}
	return unmarkPatch(AnnotationWasUnschedulable, resourceVersion, map[string]any{"unschedulable": unschedulable})
}

// scalePatch records a workload's prior replicas and sets new ones.
func scalePatch(m mark, prior, replicas int32, resourceVersion string) map[string]any {
	return markPatch(m, AnnotationReplicas, strconv.FormatInt(int64(prior), 10), resourceVersion, map[string]any{"replicas": replicas})
}

// restoreScalePatch restores a workload's recorded replicas and removes
// the marks.
func restoreScalePatch(annotations map[string]string, resourceVersion string) (map[string]any, error) {
	prior, err := priorReplicas(annotations)
	if err != nil {
		return nil, err
	}
	return unmarkPatch(AnnotationReplicas, resourceVersion, map[string]any{"replicas": prior}), nil
}

// priorReplicas reads the replicas recorded before a scale.
func priorReplicas(annotations map[string]string) (int32, error) {
	v, ok := annotations[AnnotationReplicas]
	if !ok {
		return 0, fmt.Errorf("annotation %s is missing: the prior replica count is unknown", AnnotationReplicas)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("annotation %s=%q is not a replica count", AnnotationReplicas, v)
	}
	return int32(n), nil
}
