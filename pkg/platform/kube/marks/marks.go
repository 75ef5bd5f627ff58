package marks

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/evidence"
)

// Annotations firedrill writes on the objects it changes, so that any later
// process can find and restore them.
const (
	// AnnotationRunID names the run that changed the object.
	AnnotationRunID = "firedrill.dev/run-id"
	// AnnotationFault names the fault (step) of that run.
	AnnotationFault = "firedrill.dev/fault"
	// AnnotationHeartbeat names, as namespace/name, the Lease the run
	// renews while it lives (package lease): whoever finds the marks
	// without the run's journal reads it to tell a live run from a dead
	// one.
	AnnotationHeartbeat = "firedrill.dev/heartbeat"
	// AnnotationWasUnschedulable holds a node's spec.unschedulable before
	// the drill cordoned it ("true" or "false").
	AnnotationWasUnschedulable = "firedrill.dev/was-unschedulable"
	// AnnotationReplicas holds a workload's spec.replicas before the drill
	// scaled it.
	AnnotationReplicas = "firedrill.dev/replicas"
	// AnnotationStore names, on the objects a model store outage creates,
	// the store workload they cut off (Kind/namespace/name).
	AnnotationStore = "firedrill.dev/store"
	// AnnotationSelector holds the selector values a Service switch
	// replaced, as a JSON object of key to prior value (null: the key was
	// absent).
	AnnotationSelector = "firedrill.dev/selector"
	// AnnotationWeights holds the backend weights an HTTPRoute switch
	// replaced, as a JSON list of {rule, backend, service, weight}.
	AnnotationWeights = "firedrill.dev/weights"
	// LabelRunID labels objects firedrill creates (Chaos Mesh objects,
	// NetworkPolicies) with their run, made a valid label value; the
	// annotation AnnotationRunID holds it verbatim.
	LabelRunID = "firedrill.dev/run-id"
	// LabelFault labels objects firedrill creates with their fault.
	LabelFault = "firedrill.dev/fault"
)

// FieldManager names firedrill's changes in managedFields.
const FieldManager = "firedrill"

// Kinds of the marked objects that are not targets of any fault. Marked
// lists them with these kinds so that recovery can revert each from its own
// marks; nodes, stores and Chaos Mesh objects use the evidence kinds.
const (
	// KindWorkload is a Deployment or StatefulSet a region cutover or a
	// store outage scaled, named Kind/namespace/name.
	KindWorkload evidence.TargetKind = "workload"
	// KindNetworkPolicy is a NetworkPolicy a store outage created, named
	// namespace/name.
	KindNetworkPolicy evidence.TargetKind = "networkpolicy"
	// KindService is a Service whose selector a traffic switch rewrote,
	// named namespace/name.
	KindService evidence.TargetKind = "service"
	// KindHTTPRoute is a Gateway API HTTPRoute whose weights a traffic
	// switch rewrote, named namespace/name.
	KindHTTPRoute evidence.TargetKind = "httproute"
)

// Mark is the bookkeeping of one fault on one object: the run and the
// step that changed or created it, and where the run's heartbeat is.
type Mark struct {
	// RunID is the run.
	RunID string
	// Fault is the step of that run.
	Fault string
	// Heartbeat is the run's heartbeat Lease, namespace/name; empty on
	// marks written before heartbeats (or by a process that keeps none).
	// It does not take part in ownership: Same compares run and fault.
	Heartbeat string
}

// Same says whether o marks the same run and fault as m.
func (m Mark) Same(o Mark) bool { return m.RunID == o.RunID && m.Fault == o.Fault }

// On is the marked object t that carries m.
func (m Mark) On(t evidence.Target) Object {
	return Object{Target: t, RunID: m.RunID, Fault: m.Fault, Heartbeat: m.Heartbeat}
}

// Annotations are the annotations that mark an object with m.
func (m Mark) Annotations() map[string]string {
	ann := map[string]string{AnnotationRunID: m.RunID, AnnotationFault: m.Fault}
	if m.Heartbeat != "" {
		ann[AnnotationHeartbeat] = m.Heartbeat
	}
	return ann
}

// Keys are the annotations a mark may consist of, which unmarking removes
// (with the record of the prior state).
var Keys = []string{AnnotationRunID, AnnotationFault, AnnotationHeartbeat}

// Object is an object that carries a run's marks: a fault of that run is
// (or was left) in effect on it, or the run created it.
type Object struct {
	// Target is the object as a target of the platform.
	Target evidence.Target
	// RunID and Fault are the run and step that marked it.
	RunID, Fault string
	// Heartbeat is where the marks say the run's heartbeat Lease is,
	// namespace/name; empty when they name none.
	Heartbeat string
}

// Owner says which run and fault changed an object, from its annotations.
// ok is false when no firedrill run touched it.
func Owner(annotations map[string]string) (Mark, bool) {
	run, ok := annotations[AnnotationRunID]
	if !ok || run == "" {
		return Mark{}, false
	}
	return Mark{RunID: run, Fault: annotations[AnnotationFault], Heartbeat: annotations[AnnotationHeartbeat]}, true
}

// Ownership classifies an object's marks against the fault about to act on
// it.
type Ownership int

const (
	// Unowned objects carry no firedrill marks.
	Unowned Ownership = iota
	// Ours are marked by this very run and fault: a repeated inject.
	Ours
	// Foreign objects are marked by another run or fault.
	Foreign
)

// OwnershipOf classifies annotations against m.
func OwnershipOf(annotations map[string]string, m Mark) Ownership {
	got, ok := Owner(annotations)
	switch {
	case !ok:
		return Unowned
	case got.Same(m):
		return Ours
	default:
		return Foreign
	}
}

// HeldError is the refusal to touch what, which another run or fault
// marked (its annotations say which).
func HeldError(what string, annotations map[string]string) error {
	o, _ := Owner(annotations)
	return fmt.Errorf("%s is held by run %s (step %s); run drill cleanup if that run is dead", what, o.RunID, o.Fault)
}

// Created labels and annotates an object firedrill creates, so that a
// label selector finds it and CreatedOwner reads the exact run and fault.
func Created(obj metav1.Object, m Mark) {
	lbls := obj.GetLabels()
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[LabelRunID] = LabelValue(m.RunID)
	lbls[LabelFault] = LabelValue(m.Fault)
	obj.SetLabels(lbls)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	maps.Copy(ann, m.Annotations())
	obj.SetAnnotations(ann)
}

// CreatedOwner says which run and fault created an object: from its
// annotations, else (objects of older versions) from its labels.
func CreatedOwner(obj metav1.Object) (Mark, bool) {
	if m, ok := Owner(obj.GetAnnotations()); ok {
		return m, true
	}
	lbls := obj.GetLabels()
	if run := lbls[LabelRunID]; run != "" {
		return Mark{RunID: run, Fault: lbls[LabelFault]}, true
	}
	return Mark{}, false
}

// CreatedBy says whether an object was created for fault m. Labels hold
// sanitised values, so they are compared as such.
func CreatedBy(obj metav1.Object, m Mark) bool {
	got, ok := CreatedOwner(obj)
	if !ok {
		return false
	}
	if got.Same(m) {
		return true
	}
	_, annotated := Owner(obj.GetAnnotations())
	return !annotated && got.RunID == LabelValue(m.RunID) && got.Fault == LabelValue(m.Fault)
}

// Filter matches marks against a run and fault; empty fields match any.
type Filter struct {
	// RunID is the run to match.
	RunID string
	// FaultID is the step to match.
	FaultID string
}

// Changed matches an object firedrill changed, by its annotations.
func (f Filter) Changed(annotations map[string]string) (Mark, bool) {
	m, ok := Owner(annotations)
	if !ok || (f.RunID != "" && m.RunID != f.RunID) || (f.FaultID != "" && m.Fault != f.FaultID) {
		return Mark{}, false
	}
	return m, true
}

// Created matches an object firedrill created, by its annotations or,
// failing those, its labels.
func (f Filter) Created(obj metav1.Object) (Mark, bool) {
	m, ok := CreatedOwner(obj)
	if !ok {
		return Mark{}, false
	}
	_, annotated := Owner(obj.GetAnnotations())
	same := func(got, want string) bool {
		return want == "" || got == want || (!annotated && got == LabelValue(want))
	}
	if !same(m.RunID, f.RunID) || !same(m.Fault, f.FaultID) {
		return Mark{}, false
	}
	return m, true
}

var nonLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// LabelValue makes s a valid label value.
func LabelValue(s string) string {
	v := nonLabel.ReplaceAllString(s, "-")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// CordonPatch is the merge patch that records a node's prior state and
// cordons it, guarded by resourceVersion so a concurrent change fails.
func CordonPatch(m Mark, wasUnschedulable bool, resourceVersion string) map[string]any {
	return MarkPatch(m, AnnotationWasUnschedulable, strconv.FormatBool(wasUnschedulable), resourceVersion,
		map[string]any{"unschedulable": true})
}

// MarkPatch is a merge patch that marks an object with m and its record
// (the state firedrill changes, kept in annotation key) and changes spec,
// guarded by resourceVersion so that a concurrent change fails.
func MarkPatch(m Mark, key, record, resourceVersion string, spec map[string]any) map[string]any {
	ann := map[string]any{key: record}
	for k, v := range m.Annotations() {
		ann[k] = v
	}
	return map[string]any{
		"metadata": map[string]any{
			"resourceVersion": resourceVersion,
			"annotations":     ann,
		},
		"spec": spec,
	}
}

// UnmarkPatch is a merge patch that removes the marks and the record in
// annotation key and changes spec back, guarded by resourceVersion.
func UnmarkPatch(key, resourceVersion string, spec map[string]any) map[string]any {
	return map[string]any{
		"metadata": map[string]any{
			"resourceVersion": resourceVersion,
			"annotations":     map[string]any{AnnotationRunID: nil, AnnotationFault: nil, AnnotationHeartbeat: nil, key: nil},
		},
		"spec": spec,
	}
}

// UncordonPatch restores a node's prior schedulability and removes the
// marks. A node without a readable prior state is made schedulable: the
// drill only cordons nodes that were schedulable.
func UncordonPatch(annotations map[string]string, resourceVersion string) map[string]any {
	was, err := strconv.ParseBool(annotations[AnnotationWasUnschedulable])
	if err != nil {
		was = false
	}
	var unschedulable any = was
	if !was {
		unschedulable = nil // drop the field, as kubectl uncordon does
	}
	return UnmarkPatch(AnnotationWasUnschedulable, resourceVersion, map[string]any{"unschedulable": unschedulable})
}

// ScalePatch records a workload's prior replicas and sets new ones.
func ScalePatch(m Mark, prior, replicas int32, resourceVersion string) map[string]any {
	return MarkPatch(m, AnnotationReplicas, strconv.FormatInt(int64(prior), 10), resourceVersion, map[string]any{"replicas": replicas})
}

// RestoreScalePatch restores a workload's recorded replicas and removes
// the marks.
func RestoreScalePatch(annotations map[string]string, resourceVersion string) (map[string]any, error) {
	prior, err := PriorReplicas(annotations)
	if err != nil {
		return nil, err
	}
	return UnmarkPatch(AnnotationReplicas, resourceVersion, map[string]any{"replicas": prior}), nil
}

// PriorReplicas reads the replicas recorded before a scale.
func PriorReplicas(annotations map[string]string) (int32, error) {
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
