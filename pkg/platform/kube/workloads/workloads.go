package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Workload is the part of a Deployment or StatefulSet the platform reads.
type Workload struct {
	// Meta is the object's metadata.
	Meta metav1.ObjectMeta
	// Replicas is spec.replicas.
	Replicas *int32
	// Template is the pod template.
	Template *corev1.PodTemplateSpec
	// Selector is the pod selector.
	Selector *metav1.LabelSelector
}

func fromDeployment(d *appsv1.Deployment) Workload {
	return Workload{Meta: d.ObjectMeta, Replicas: d.Spec.Replicas, Template: &d.Spec.Template, Selector: d.Spec.Selector}
}

func fromStatefulSet(s *appsv1.StatefulSet) Workload {
	return Workload{Meta: s.ObjectMeta, Replicas: s.Spec.Replicas, Template: &s.Spec.Template, Selector: s.Spec.Selector}
}

// Get reads a Deployment or StatefulSet. A missing one is an error that
// apierrors.IsNotFound recognises.
func Get(ctx context.Context, r client.Reader, ref v1alpha1.WorkloadRef) (Workload, error) {
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	switch ref.Kind {
	case v1alpha1.WorkloadDeployment:
		var d appsv1.Deployment
		if err := r.Get(ctx, key, &d); err != nil {
			return Workload{}, err
		}
		return fromDeployment(&d), nil
	case v1alpha1.WorkloadStatefulSet:
		var s appsv1.StatefulSet
		if err := r.Get(ctx, key, &s); err != nil {
			return Workload{}, err
		}
		return fromStatefulSet(&s), nil
	}
	return Workload{}, fmt.Errorf("workload kind %s cannot be scaled", ref.Kind)
}

// patch sends a merge patch to a Deployment or StatefulSet.
func patch(ctx context.Context, w client.Writer, ref v1alpha1.WorkloadRef, p map[string]any) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	var obj client.Object
	switch ref.Kind {
	case v1alpha1.WorkloadDeployment:
		obj = &appsv1.Deployment{}
	case v1alpha1.WorkloadStatefulSet:
		obj = &appsv1.StatefulSet{}
	default:
		return fmt.Errorf("workload kind %s cannot be scaled", ref.Kind)
	}
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	return w.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data))
}

// Observer hears when a scale took effect.
type Observer interface {
	// TookEffect says a workload was scaled down now.
	TookEffect()
}

// ScaleToZero records a workload's replicas in an annotation and scales it
// to zero, in one patch guarded by resourceVersion. A workload this fault
// already scaled is scaled to zero again (someone may have scaled it up
// meanwhile) without touching its record; one another fault holds is
// refused. The namespace must be in allowed.
func ScaleToZero(ctx context.Context, c client.Client, allowed []string, ref v1alpha1.WorkloadRef, m marks.Mark, obs Observer) error {
	if err := objects.NamespaceAllowed(allowed, ref.Namespace); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		w, err := Get(ctx, c, ref)
		if err != nil {
			return fmt.Errorf("getting %s: %w", objects.WorkloadName(ref), err)
		}
		var p map[string]any
		switch marks.OwnershipOf(w.Meta.Annotations, m) {
		case marks.Foreign:
			return marks.HeldError(objects.WorkloadName(ref), w.Meta.Annotations)
		case marks.Ours:
			if objects.ReplicasOf(w.Replicas) == 0 {
				return nil
			}
			p = map[string]any{"metadata": map[string]any{"resourceVersion": w.Meta.ResourceVersion}, "spec": map[string]any{"replicas": 0}}
		default:
			p = marks.ScalePatch(m, objects.ReplicasOf(w.Replicas), 0, w.Meta.ResourceVersion)
		}
		if err := patch(ctx, c, ref, p); err != nil {
			return fmt.Errorf("scaling %s to zero: %w", objects.WorkloadName(ref), err)
		}
		obs.TookEffect()
		return nil
	})
}

// RestoreScale restores the replicas a workload had before fault m scaled
// it and removes the marks. A workload that is gone or not marked by m is
// left alone.
func RestoreScale(ctx context.Context, c client.Client, ref v1alpha1.WorkloadRef, m marks.Mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		w, err := Get(ctx, c, ref)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting %s: %w", objects.WorkloadName(ref), err)
		}
		if marks.OwnershipOf(w.Meta.Annotations, m) != marks.Ours {
			return nil
		}
		p, err := marks.RestoreScalePatch(w.Meta.Annotations, w.Meta.ResourceVersion)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", objects.WorkloadName(ref), err)
		}
		if err := patch(ctx, c, ref, p); err != nil {
			return fmt.Errorf("restoring %s: %w", objects.WorkloadName(ref), err)
		}
		return nil
	})
}

// Listed is a Deployment or StatefulSet as a List returned it.
type Listed struct {
	// Ref names it.
	Ref v1alpha1.WorkloadRef
	// Workload is what was read.
	Workload Workload
}

// List lists the Deployments and StatefulSets of the namespaces, one List
// per kind and namespace.
func List(ctx context.Context, r client.Reader, namespaces []string) ([]Listed, error) {
	var out []Listed
	for _, ns := range namespaces {
		var deps appsv1.DeploymentList
		if err := r.List(ctx, &deps, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			out = append(out, Listed{Ref: v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: d.Namespace, Name: d.Name}, Workload: fromDeployment(d)})
		}
		var sts appsv1.StatefulSetList
		if err := r.List(ctx, &sts, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			s := &sts.Items[i]
			out = append(out, Listed{Ref: v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadStatefulSet, Namespace: s.Namespace, Name: s.Name}, Workload: fromStatefulSet(s)})
		}
	}
	return out, nil
}

// InRegion lists the workloads of namespaces that run in region (in
// scope) and a region cutover of fault m takes down: those with replicas
// and no marks, and those m already scaled. Workloads another fault holds
// are left out.
func InRegion(ctx context.Context, r client.Reader, namespaces []string, region string, scope objects.Scope, m marks.Mark) ([]Listed, error) {
	all, err := List(ctx, r, namespaces)
	if err != nil {
		return nil, err
	}
	var out []Listed
	for _, l := range all {
		w := l.Workload
		if scope.WorkloadRegion(w.Meta.Labels, w.Template) != region {
			continue
		}
		switch marks.OwnershipOf(w.Meta.Annotations, m) {
		case marks.Foreign:
			continue
		case marks.Unowned:
			if objects.ReplicasOf(w.Replicas) == 0 {
				continue
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// Marked lists the Deployments and StatefulSets of namespaces whose marks
// filter matches.
func Marked(ctx context.Context, r client.Reader, namespaces []string, filter marks.Filter) ([]marks.Object, error) {
	all, err := List(ctx, r, namespaces)
	if err != nil {
		return nil, err
	}
	var out []marks.Object
	for _, l := range all {
		if m, ok := filter.Changed(l.Workload.Meta.Annotations); ok {
			out = append(out, m.On(evidence.Target{Kind: marks.KindWorkload, Name: objects.WorkloadName(l.Ref)}))
		}
	}
	return out, nil
}

// RestoreMarked restores every workload of namespaces that fault m
// scaled. It returns the workloads restored and every error joined.
func RestoreMarked(ctx context.Context, c client.Client, namespaces []string, m marks.Mark) ([]string, error) {
	held, err := Marked(ctx, c, namespaces, marks.Filter{RunID: m.RunID, FaultID: m.Fault})
	if err != nil {
		return nil, err
	}
	var restored []string
	var errs []error
	for _, o := range held {
		ref, err := objects.ParseWorkload(o.Target.Name)
		if err == nil {
			err = RestoreScale(ctx, c, ref, m)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		restored = append(restored, o.Target.Name)
	}
	return restored, errors.Join(errs...)
}
