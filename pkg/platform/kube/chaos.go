package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// ErrChaosMeshMissing says the cluster does not serve the Chaos Mesh API.
var ErrChaosMeshMissing = errors.New("chaos mesh is not installed")

// chaosObject is a Chaos Mesh fault object.
type chaosObject interface {
	client.Object
	GetStatus() *chaosv1alpha1.ChaosStatus
}

// newChaosObject returns an empty object of a supported Chaos Mesh kind.
func newChaosObject(kind v1alpha1.ChaosKind) (chaosObject, error) {
	switch kind {
	case "PodChaos":
		return &chaosv1alpha1.PodChaos{}, nil
	case "NetworkChaos":
		return &chaosv1alpha1.NetworkChaos{}, nil
	case "IOChaos":
		return &chaosv1alpha1.IOChaos{}, nil
	case "StressChaos":
		return &chaosv1alpha1.StressChaos{}, nil
	}
	return nil, fmt.Errorf("chaos mesh kind %q: %w", kind, platform.ErrUnsupported)
}

// chaosKindOf is the kind of a typed Chaos Mesh object.
func chaosKindOf(obj chaosObject) v1alpha1.ChaosKind {
	switch obj.(type) {
	case *chaosv1alpha1.PodChaos:
		return "PodChaos"
	case *chaosv1alpha1.NetworkChaos:
		return "NetworkChaos"
	case *chaosv1alpha1.IOChaos:
		return "IOChaos"
	case *chaosv1alpha1.StressChaos:
		return "StressChaos"
	}
	return ""
}

// chaosKinds are the Chaos Mesh kinds firedrill creates.
var chaosKinds = []v1alpha1.ChaosKind{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}

// newChaosList returns an empty list of a supported Chaos Mesh kind and a
// function that reads its items.
func newChaosList(kind v1alpha1.ChaosKind) (client.ObjectList, func() []chaosObject) {
	switch kind {
	case "PodChaos":
		l := &chaosv1alpha1.PodChaosList{}
		return l, func() []chaosObject { return itemsOf(l.Items) }
	case "NetworkChaos":
		l := &chaosv1alpha1.NetworkChaosList{}
		return l, func() []chaosObject { return itemsOf(l.Items) }
	case "IOChaos":
		l := &chaosv1alpha1.IOChaosList{}
		return l, func() []chaosObject { return itemsOf(l.Items) }
	case "StressChaos":
		l := &chaosv1alpha1.StressChaosList{}
		return l, func() []chaosObject { return itemsOf(l.Items) }
	}
	return nil, nil
}

// itemsOf takes the address of each item of a typed list.
func itemsOf[T any, PT interface {
	*T
	chaosObject
}](items []T) []chaosObject {
	out := make([]chaosObject, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// checkChaosMesh asks discovery whether the cluster serves kind.
func (p *Platform) checkChaosMesh(_ context.Context, kind v1alpha1.ChaosKind) error {
	if _, err := newChaosObject(kind); err != nil {
		return err
	}
	gv := chaosv1alpha1.SchemeGroupVersion.String()
	res, err := p.disco.ServerResourcesForGroupVersion(gv)
	if apierrors.IsNotFound(err) || (err == nil && res == nil) {
		return fmt.Errorf("%w: the cluster does not serve %s; install Chaos Mesh (https://chaos-mesh.org/docs/production-installation-using-helm/) "+
			"or remove the chaosMesh step", ErrChaosMeshMissing, gv)
	}
	if err != nil {
		return fmt.Errorf("discovering %s: %w", gv, err)
	}
	if !slices.ContainsFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Kind == string(kind) }) {
		return fmt.Errorf("%w: the cluster serves %s but not the kind %s; upgrade Chaos Mesh", ErrChaosMeshMissing, gv, kind)
	}
	return nil
}

// buildChaos turns the plan's fault into a typed Chaos Mesh object,
// rejecting unknown spec fields.
func buildChaos(f platform.Fault, namespace string) (chaosObject, error) {
	cm := f.Spec.ChaosMesh
	obj, err := newChaosObject(cm.Kind)
	if err != nil {
		return nil, err
	}
	spec := cm.Spec.Raw
	if len(spec) == 0 {
		spec = []byte("{}")
	}
	doc, err := json.Marshal(map[string]any{
		"apiVersion": chaosv1alpha1.SchemeGroupVersion.String(),
		"kind":       string(cm.Kind),
		"metadata":   map[string]any{"name": chaosName(f), "namespace": namespace},
		"spec":       json.RawMessage(spec),
	})
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", cm.Kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("chaosMesh %s spec: %w", cm.Kind, err)
	}
	markCreated(obj, mark{RunID: f.RunID, Fault: f.ID})
	return obj, nil
}

// chaosTargetName is the target name of a Chaos Mesh object:
// Kind/namespace/name.
func chaosTargetName(kind v1alpha1.ChaosKind, namespace, name string) string {
	return string(kind) + "/" + namespace + "/" + name
}

// labelValue makes s a valid label value.
func labelValue(s string) string {
	v := nonLabel.ReplaceAllString(s, "-")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// createChaos creates the fault's Chaos Mesh object (or finds it) and
// waits until Chaos Mesh reports every target injected.
func (p *Platform) createChaos(ctx context.Context, f platform.Fault, t platform.Target) error {
	if err := p.checkChaosMesh(ctx, f.Spec.ChaosMesh.Kind); err != nil {
		return err
	}
	obj, err := buildChaos(f, p.namespace)
	if err != nil {
		return err
	}
	return p.applyChaos(ctx, f, obj, t.Name)
}

// applyChaos creates a Chaos Mesh object (a repeated inject finds the one
// it created) and waits until Chaos Mesh reports every selected target
// injected. name is the object as Kind/namespace/name, for messages.
func (p *Platform) applyChaos(ctx context.Context, f platform.Fault, obj chaosObject, name string) error {
	m := mark{RunID: f.RunID, Fault: f.ID}
	if err := p.client.Create(ctx, obj, client.FieldOwner(fieldManager)); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		existing, err := newChaosObject(chaosKindOf(obj))
		if err != nil {
			return err
		}
		if err := p.client.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if !createdBy(existing, m) {
			o, _ := createdOwner(existing)
			return fmt.Errorf("%s exists but was not created by run %s step %s (it carries run %q step %q); delete it or run drill cleanup",
				name, f.RunID, f.ID, o.RunID, o.Fault)
		}
	}
	start := p.opts.Clock.Now()
	key := client.ObjectKeyFromObject(obj)
	var last []chaosv1alpha1.ChaosCondition
	err := wait.PollUntilContextTimeout(ctx, p.opts.PollInterval, p.opts.ChaosTimeout, true, func(ctx context.Context) (bool, error) {
		if err := p.client.Get(ctx, key, obj); err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
		last = obj.GetStatus().Conditions
		return chaosInjected(last), nil
	})
	if err != nil {
		return fmt.Errorf("%s was not reported injected within %s (conditions %s); is the Chaos Mesh controller running and does the selector match pods? %w",
			name, p.opts.ChaosTimeout, describeConditions(last), err)
	}
	p.note(f.ID, "%s reported AllInjected %s after it was created", name, p.opts.Clock.Since(start).Round(time.Millisecond))
	return nil
}

func chaosInjected(conds []chaosv1alpha1.ChaosCondition) bool {
	return slices.ContainsFunc(conds, func(c chaosv1alpha1.ChaosCondition) bool {
		return c.Type == chaosv1alpha1.ConditionAllInjected && c.Status == corev1.ConditionTrue
	})
}

func describeConditions(conds []chaosv1alpha1.ChaosCondition) string {
	if len(conds) == 0 {
		return "none"
	}
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = string(c.Type) + "=" + string(c.Status)
	}
	return strings.Join(parts, ", ")
}

// deleteChaos deletes a Chaos Mesh object named Kind/namespace/name and
// waits until it is gone: Chaos Mesh recovers the targets in its
// finalizer.
func (p *Platform) deleteChaos(ctx context.Context, name string) error {
	kind, rest, ok := strings.Cut(name, "/")
	if !ok {
		return fmt.Errorf("chaos target %q is not Kind/namespace/name", name)
	}
	ns, n, err := splitKey(rest)
	if err != nil {
		return err
	}
	obj, err := newChaosObject(v1alpha1.ChaosKind(kind))
	if err != nil {
		return err
	}
	if err := p.checkChaosMesh(ctx, v1alpha1.ChaosKind(kind)); errors.Is(err, ErrChaosMeshMissing) {
		return nil // without the API no such object can exist
	}
	obj.SetNamespace(ns)
	obj.SetName(n)
	if err := p.client.Delete(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) || isNoKind(err) {
			return nil
		}
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, p.opts.PollInterval, p.opts.ChaosTimeout, true, func(ctx context.Context) (bool, error) {
		err := p.client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be recovered and deleted: %w", name, err)
	}
	return nil
}

// isNoKind says whether the error means the API does not serve the kind.
func isNoKind(err error) bool {
	return meta.IsNoMatchError(err) || discovery.IsGroupDiscoveryFailedError(err)
}
