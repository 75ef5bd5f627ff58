package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Capacity reports desired versus ready replicas of each watched workload
// from the cache, named prefix + Kind/namespace/name, and the names of the
// watched workloads that do not exist (see CapacityOf).
func (w *Watcher) Capacity(ctx context.Context, now time.Time, prefix string, lost LostFunc) ([]evidence.CapacityPoint, []string, error) {
	return CapacityOf(ctx, w.reader, w.opts.Workloads, prefix, now, lost)
}

// LostFunc says whether a workload (by its labels and pod template) is in
// a region a cutover took down on purpose; nil means none is.
type LostFunc func(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) bool

// CapacityOf reports desired versus ready replicas of each workload of
// refs (defaulted) as read through r, named prefix + Kind/namespace/name,
// and the names (without prefix) of those that do not exist. A workload
// the drill scaled down counts its replicas from before the fault as
// desired: scaling to zero is lost capacity, not a new target. A workload
// of a region a cutover took down desires nothing while the region is down
// (lost says which): the failover asks whether the rest of the system
// serves, and the region's return is the fail-back's capacity.
func CapacityOf(ctx context.Context, r client.Reader, refs []v1alpha1.WorkloadRef, prefix string, now time.Time, lost LostFunc) ([]evidence.CapacityPoint, []string, error) {
	var out []evidence.CapacityPoint
	var missing []string
	var errs []error
	for _, ref := range refs {
		key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
		var meta metav1.Object
		var tmpl *corev1.PodTemplateSpec
		var desired, ready int32
		var err error
		switch ref.Kind {
		case v1alpha1.WorkloadDeployment:
			var d appsv1.Deployment
			if err = r.Get(ctx, key, &d); err == nil {
				meta, tmpl, desired, ready = &d, &d.Spec.Template, objects.ReplicasOf(d.Spec.Replicas), d.Status.ReadyReplicas
			}
		case v1alpha1.WorkloadStatefulSet:
			var s appsv1.StatefulSet
			if err = r.Get(ctx, key, &s); err == nil {
				meta, tmpl, desired, ready = &s, &s.Spec.Template, objects.ReplicasOf(s.Spec.Replicas), s.Status.ReadyReplicas
			}
		default:
			errs = append(errs, fmt.Errorf("workload kind %s is not watched on kubernetes", ref.Kind))
			continue
		}
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, objects.WorkloadName(ref))
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", objects.WorkloadName(ref), err))
			continue
		}
		if prior, err := marks.PriorReplicas(meta.GetAnnotations()); err == nil {
			desired = prior
		}
		if lost != nil && lost(meta.GetLabels(), tmpl) {
			desired = 0
		}
		out = append(out, evidence.CapacityPoint{At: now, Workload: prefix + objects.WorkloadName(ref), Desired: int(desired), Ready: int(ready)})
	}
	return out, missing, errors.Join(errs...)
}

// expectation is a fault waiting for its replacement.
type expectation struct {
	fault string
	since time.Time
	// selectors select the pods that replace capacity, by namespace.
	selectors map[string][]labels.Selector
}

func (e *expectation) matches(sp seenPod) bool {
	return !sp.at.Before(e.since) && slices.ContainsFunc(e.selectors[sp.namespace], func(s labels.Selector) bool {
		return s.Matches(labels.Set(sp.labels))
	})
}

// Expect makes the watcher report, once, the first pod that replaces
// capacity for fault and was first seen at or after since: a pod of a
// watched workload (its pod selector), or one extra selects in namespace
// extraNS (a pod kill's selector). A pod seen already is reported at once.
// A new Expect for the same fault replaces the one waiting.
func (w *Watcher) Expect(ctx context.Context, fault string, since time.Time, extraNS string, extra labels.Selector) {
	e := &expectation{fault: fault, since: since, selectors: w.selectors(ctx)}
	if extra != nil && !extra.Empty() {
		e.selectors[extraNS] = append(e.selectors[extraNS], extra)
	}
	w.mu.Lock()
	w.expected = slices.DeleteFunc(w.expected, func(o *expectation) bool { return o.fault == fault })
	var first *time.Time
	for _, sp := range w.seen {
		if e.matches(sp) && (first == nil || sp.at.Before(*first)) {
			at := sp.at
			first = &at
		}
	}
	if first == nil {
		w.expected = append(w.expected, e)
	}
	w.mu.Unlock()
	if first != nil {
		w.opts.Sink.Replaced(fault, *first)
	}
}

// meetLocked removes and returns the expectations a newly seen pod meets.
func (w *Watcher) meetLocked(sp seenPod) []*expectation {
	var met []*expectation
	w.expected = slices.DeleteFunc(w.expected, func(e *expectation) bool {
		if e.matches(sp) {
			met = append(met, e)
			return true
		}
		return false
	})
	return met
}

// selectors are the pod selectors of the watched workloads, by namespace,
// read from the cache.
func (w *Watcher) selectors(ctx context.Context) map[string][]labels.Selector {
	out := map[string][]labels.Selector{}
	for _, ref := range w.opts.Workloads {
		key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
		var sel *metav1.LabelSelector
		switch ref.Kind {
		case v1alpha1.WorkloadDeployment:
			var d appsv1.Deployment
			if w.reader.Get(ctx, key, &d) == nil {
				sel = d.Spec.Selector
			}
		case v1alpha1.WorkloadStatefulSet:
			var s appsv1.StatefulSet
			if w.reader.Get(ctx, key, &s) == nil {
				sel = s.Spec.Selector
			}
		}
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && sel != nil && !s.Empty() {
			out[ref.Namespace] = append(out[ref.Namespace], s)
		}
	}
	return out
}
