package traffic

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// serviceSwitch is s with its defaults.
func (s Switcher) serviceSwitch(sw *v1alpha1.ServiceSwitch) v1alpha1.ServiceSwitch {
	out := *sw
	if out.Namespace == "" {
		out.Namespace = s.Namespace
	}
	if out.SelectorKey == "" {
		out.SelectorKey = v1alpha1.DefaultSelectorKey
	}
	return out
}

// checkService checks a Service switch can work: the Service exists in
// an allowed namespace and its selector has the key (or this fault
// switched it already).
func (s Switcher) checkService(ctx context.Context, sw v1alpha1.ServiceSwitch, m *marks.Mark) error {
	name := sw.Namespace + "/" + sw.Name
	if err := objects.NamespaceAllowed(s.Allowed, sw.Namespace); err != nil {
		return fmt.Errorf("traffic switch Service %s: %w", name, err)
	}
	var svc corev1.Service
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: sw.Namespace, Name: sw.Name}, &svc); err != nil {
		return fmt.Errorf("getting traffic switch Service %s: %w", name, err)
	}
	switch ownership(svc.Annotations, m) {
	case marks.Foreign:
		return marks.HeldError("traffic switch Service "+name, svc.Annotations)
	case marks.Unowned:
		if _, ok := svc.Spec.Selector[sw.SelectorKey]; !ok {
			return fmt.Errorf("traffic switch Service %s has no selector key %s for the switch to rewrite (selector %v)", name, sw.SelectorKey, svc.Spec.Selector)
		}
	}
	return nil
}

// switchService points the Service's selector key at region to, recording
// the prior value and the marks in the same patch. It reports whether it
// changed the Service.
func (s Switcher) switchService(ctx context.Context, sw v1alpha1.ServiceSwitch, m marks.Mark, to string) (bool, error) {
	if err := objects.NamespaceAllowed(s.Allowed, sw.Namespace); err != nil {
		return false, fmt.Errorf("traffic switch Service %s/%s: %w", sw.Namespace, sw.Name, err)
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var svc corev1.Service
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: sw.Namespace, Name: sw.Name}, &svc); err != nil {
			return fmt.Errorf("getting Service %s/%s: %w", sw.Namespace, sw.Name, err)
		}
		patch, err := selectorSwitchPatch(&svc, sw.SelectorKey, to, m)
		if err != nil || patch == nil {
			return err
		}
		if err := patchService(ctx, s.Client, sw.Namespace, sw.Name, patch); err != nil {
			return fmt.Errorf("switching Service %s/%s selector %s to %s: %w", sw.Namespace, sw.Name, sw.SelectorKey, to, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

// restoreService restores the selector values a switch of fault m
// recorded and removes the marks. A Service that is gone or not marked by
// m is left alone. It reports whether it changed the Service.
func (s Switcher) restoreService(ctx context.Context, namespace, name string, m marks.Mark) (bool, error) {
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var svc corev1.Service
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting Service %s/%s: %w", namespace, name, err)
		}
		if marks.OwnershipOf(svc.Annotations, m) != marks.Ours {
			return nil
		}
		patch, err := selectorRestorePatch(svc.Annotations, svc.ResourceVersion)
		if err != nil {
			return fmt.Errorf("restoring Service %s/%s: %w", namespace, name, err)
		}
		if err := patchService(ctx, s.Client, namespace, name, patch); err != nil {
			return fmt.Errorf("restoring Service %s/%s selector: %w", namespace, name, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

func patchService(ctx context.Context, c client.Writer, namespace, name string, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	return c.Patch(ctx, svc, client.RawPatch(types.MergePatchType, data))
}

// selectorSwitchPatch is the merge patch that points svc's selector key at
// to. An unmarked Service gets the marks and its prior value recorded; a
// Service this fault switched only gets its key set again, keeping the
// record. nil means nothing to do.
func selectorSwitchPatch(svc *corev1.Service, key, to string, m marks.Mark) (map[string]any, error) {
	name := svc.Namespace + "/" + svc.Name
	meta := map[string]any{"resourceVersion": svc.ResourceVersion}
	switch marks.OwnershipOf(svc.Annotations, m) {
	case marks.Foreign:
		return nil, marks.HeldError("traffic switch Service "+name, svc.Annotations)
	case marks.Ours:
		if v, ok := svc.Spec.Selector[key]; ok && v == to {
			return nil, nil
		}
	default:
		var prior *string
		if v, ok := svc.Spec.Selector[key]; ok {
			prior = &v
		}
		rec, err := json.Marshal(map[string]*string{key: prior})
		if err != nil {
			return nil, fmt.Errorf("encoding the selector record of Service %s: %w", name, err)
		}
		ann := map[string]any{marks.AnnotationSelector: string(rec)}
		for k, v := range m.Annotations() {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	return map[string]any{"metadata": meta, "spec": map[string]any{"selector": map[string]any{key: to}}}, nil
}

// selectorRestorePatch restores the selector values recorded in a
// Service's annotations and removes the marks.
func selectorRestorePatch(annotations map[string]string, resourceVersion string) (map[string]any, error) {
	raw, ok := annotations[marks.AnnotationSelector]
	if !ok {
		return nil, fmt.Errorf("annotation %s is missing: the prior selector is unknown", marks.AnnotationSelector)
	}
	var rec map[string]*string
	if err := json.Unmarshal([]byte(raw), &rec); err != nil || len(rec) == 0 {
		return nil, fmt.Errorf("annotation %s=%q is not a selector record", marks.AnnotationSelector, raw)
	}
	sel := map[string]any{}
	for k, v := range rec {
		if v == nil {
			sel[k] = nil // the key was absent
		} else {
			sel[k] = *v
		}
	}
	return marks.UnmarkPatch(marks.AnnotationSelector, resourceVersion, map[string]any{"selector": sel}), nil
}
