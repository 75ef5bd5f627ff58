package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

// scalable is the part of a Deployment or StatefulSet scaling needs.
type scalable struct {
	meta     metav1.ObjectMeta
	replicas *int32
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector
}

func (p *Platform) getWorkload(ctx context.Context, ref v1alpha1.WorkloadRef) (scalable, error) {
	switch ref.Kind {
	case v1alpha1.WorkloadDeployment:
		d, err := p.cs.AppsV1().Deployments(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return scalable{}, err
		}
		return scalable{meta: d.ObjectMeta, replicas: d.Spec.Replicas, template: &d.Spec.Template, selector: d.Spec.Selector}, nil
	case v1alpha1.WorkloadStatefulSet:
		s, err := p.cs.AppsV1().StatefulSets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return scalable{}, err
		}
		return scalable{meta: s.ObjectMeta, replicas: s.Spec.Replicas, template: &s.Spec.Template, selector: s.Spec.Selector}, nil
	}
	return scalable{}, fmt.Errorf("workload kind %s cannot be scaled", ref.Kind)
}

func (p *Platform) patchWorkload(ctx context.Context, ref v1alpha1.WorkloadRef, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	opts := metav1.PatchOptions{FieldManager: fieldManager}
	switch ref.Kind {
	case v1alpha1.WorkloadDeployment:
		_, err = p.cs.AppsV1().Deployments(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, data, opts)
	case v1alpha1.WorkloadStatefulSet:
		_, err = p.cs.AppsV1().StatefulSets(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, data, opts)
	default:
		err = fmt.Errorf("workload kind %s cannot be scaled", ref.Kind)
	}
	return err
}

// scaleToZero records a workload's replicas in an annotation and scales it
// to zero. A workload this fault already scaled is scaled to zero again
// (someone may have scaled it up meanwhile) without touching its record.
func (p *Platform) scaleToZero(ctx context.Context, ref v1alpha1.WorkloadRef, m mark) error {
	if err := p.namespaceAllowed(ref.Namespace); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		w, err := p.getWorkload(ctx, ref)
		if err != nil {
			return fmt.Errorf("getting %s: %w", workloadName(ref), err)
		}
		var patch map[string]any
		switch ownershipOf(w.meta.Annotations, m) {
		case foreign:
			o, _ := owner(w.meta.Annotations)
			return fmt.Errorf("%s is held by run %s (step %s); run drill cleanup if that run is dead", workloadName(ref), o.RunID, o.Fault)
		case ours:
			if replicasOf(w.replicas) == 0 {
				return nil
			}
			patch = map[string]any{"metadata": map[string]any{"resourceVersion": w.meta.ResourceVersion}, "spec": map[string]any{"replicas": 0}}
		default:
			patch = scalePatch(m, replicasOf(w.replicas), 0, w.meta.ResourceVersion)
		}
		if err := p.patchWorkload(ctx, ref, patch); err != nil {
			return fmt.Errorf("scaling %s to zero: %w", workloadName(ref), err)
		}
		p.tookEffect(m.Fault)
		return nil
	})
}

// restoreScale restores the replicas a workload had before this fault
// scaled it and removes the marks. A workload that is gone or not marked
// by this fault is left alone.
func (p *Platform) restoreScale(ctx context.Context, ref v1alpha1.WorkloadRef, m mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		w, err := p.getWorkload(ctx, ref)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting %s: %w", workloadName(ref), err)
		}
		if ownershipOf(w.meta.Annotations, m) != ours {
			return nil
		}
		patch, err := restoreScalePatch(w.meta.Annotations, w.meta.ResourceVersion)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", workloadName(ref), err)
		}
		if err := p.patchWorkload(ctx, ref, patch); err != nil {
			return fmt.Errorf("restoring %s: %w", workloadName(ref), err)
		}
		return nil
	})
}

// inferencePods lists the running pods of the watched workloads, in
// region when set, sorted by name.
func (p *Platform) inferencePods(ctx context.Context, region string) ([]corev1.Pod, error) {
	nodes, err := p.nodesByName(ctx)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, r := range p.spec.System.Workloads {
		if r.Kind == "" {
			r.Kind = v1alpha1.WorkloadDeployment
		}
		if r.Namespace == "" {
			r.Namespace = p.namespace
		}
		w, err := p.getWorkload(ctx, r)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getting %s: %w", workloadName(r), err)
		}
		sel, err := selectorOf(w.selector)
		if err != nil {
			return nil, err
		}
		pods, err := p.cs.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("listing pods of %s: %w", workloadName(r), err)
		}
		f := podFilter{region: region}
		for i := range pods.Items {
			if f.matches(&pods.Items[i], nodes[pods.Items[i].Spec.NodeName]) {
				out = append(out, pods.Items[i])
			}
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(podKey(&a), podKey(&b)) })
	return slices.CompactFunc(out, func(a, b corev1.Pod) bool { return a.UID == b.UID }), nil
}
