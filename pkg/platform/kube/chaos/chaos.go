package chaos

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
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// ErrMissing says the cluster does not serve the Chaos Mesh API.
var ErrMissing = errors.New("chaos mesh is not installed")

// Discovery is the part of a discovery client the checks need.
type Discovery interface {
	// ServerResourcesForGroupVersion lists the resources the API server
	// serves in a group version.
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// Object is a Chaos Mesh fault object.
type Object interface {
	client.Object
	GetStatus() *chaosv1alpha1.ChaosStatus
}

// New returns an empty object of a supported Chaos Mesh kind.
func New(kind v1alpha1.ChaosKind) (Object, error) {
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

// KindOf is the kind of a typed Chaos Mesh object.
func KindOf(obj Object) v1alpha1.ChaosKind {
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

// Kinds are the Chaos Mesh kinds firedrill creates.
var Kinds = []v1alpha1.ChaosKind{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}

// NewList returns an empty list of a supported Chaos Mesh kind and a
// function that reads its items.
func NewList(kind v1alpha1.ChaosKind) (client.ObjectList, func() []Object) {
	switch kind {
	case "PodChaos":
		l := &chaosv1alpha1.PodChaosList{}
		return l, func() []Object { return itemsOf(l.Items) }
	case "NetworkChaos":
		l := &chaosv1alpha1.NetworkChaosList{}
		return l, func() []Object { return itemsOf(l.Items) }
	case "IOChaos":
		l := &chaosv1alpha1.IOChaosList{}
		return l, func() []Object { return itemsOf(l.Items) }
	case "StressChaos":
		l := &chaosv1alpha1.StressChaosList{}
		return l, func() []Object { return itemsOf(l.Items) }
	}
	return nil, nil
}

// itemsOf takes the address of each item of a typed list.
func itemsOf[T any, PT interface {
	*T
	Object
}](items []T) []Object {
	out := make([]Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// Check asks discovery whether the cluster serves kind. A kind firedrill
// does not create is platform.ErrUnsupported; a cluster without it is
// ErrMissing, with how to install Chaos Mesh.
func Check(disco Discovery, kind v1alpha1.ChaosKind) error {
	if _, err := New(kind); err != nil {
		return err
	}
	gv := chaosv1alpha1.SchemeGroupVersion.String()
	res, err := disco.ServerResourcesForGroupVersion(gv)
	if apierrors.IsNotFound(err) || (err == nil && res == nil) {
		return fmt.Errorf("%w: the cluster does not serve %s; install Chaos Mesh (https://chaos-mesh.org/docs/production-installation-using-helm/) "+
			"or remove the chaosMesh step", ErrMissing, gv)
	}
	if err != nil {
		return fmt.Errorf("discovering %s: %w", gv, err)
	}
	if !slices.ContainsFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Kind == string(kind) }) {
		return fmt.Errorf("%w: the cluster serves %s but not the kind %s; upgrade Chaos Mesh", ErrMissing, gv, kind)
	}
	return nil
}

// Build turns a plan's Chaos Mesh fault into a typed object named name in
// namespace, marked with m, rejecting unknown spec fields (a typo fails
// here, not silently in the cluster).
func Build(cm *v1alpha1.ChaosMeshFault, name, namespace string, m marks.Mark) (Object, error) {
	obj, err := New(cm.Kind)
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
		"metadata":   map[string]any{"name": name, "namespace": namespace},
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
	marks.Created(obj, m)
	return obj, nil
}

// TargetName is the target name of a Chaos Mesh object:
// Kind/namespace/name.
func TargetName(kind v1alpha1.ChaosKind, namespace, name string) string {
	return string(kind) + "/" + namespace + "/" + name
}

// Observer hears what Chaos Mesh did.
type Observer interface {
	// Note records an observation for the report.
	Note(msg string)
}

// Client creates, waits on and deletes Chaos Mesh objects.
type Client struct {
	// Client reads live and writes.
	Client client.Client
	// Discovery says whether the cluster serves Chaos Mesh.
	Discovery Discovery
	// Clock times the injection.
	Clock clock.PassiveClock
	// PollInterval is how often a wait re-reads the object.
	PollInterval time.Duration
	// Timeout bounds the wait for AllInjected and for a deletion.
	Timeout time.Duration
}

// Apply creates a Chaos Mesh object (a repeated inject finds the one fault
// m created; one of the same name made by anything else is refused) and
// waits until Chaos Mesh reports every selected target injected. name is
// the object as Kind/namespace/name, for messages.
func (c Client) Apply(ctx context.Context, obj Object, name string, m marks.Mark, obs Observer) error {
	if err := Check(c.Discovery, KindOf(obj)); err != nil {
		return err
	}
	if err := c.Client.Create(ctx, obj); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		existing, err := New(KindOf(obj))
		if err != nil {
			return err
		}
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if !marks.CreatedBy(existing, m) {
			o, _ := marks.CreatedOwner(existing)
			return fmt.Errorf("%s exists but was not created by run %s step %s (it carries run %q step %q); delete it or run drill cleanup",
				name, m.RunID, m.Fault, o.RunID, o.Fault)
		}
	}
	start := c.Clock.Now()
	key := client.ObjectKeyFromObject(obj)
	var last []chaosv1alpha1.ChaosCondition
	err := wait.PollUntilContextTimeout(ctx, c.PollInterval, c.Timeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Client.Get(ctx, key, obj); err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
		last = obj.GetStatus().Conditions
		return injected(last), nil
	})
	if err != nil {
		return fmt.Errorf("%s was not reported injected within %s (conditions %s); is the Chaos Mesh controller running and does the selector match pods? %w",
			name, c.Timeout, describeConditions(last), err)
	}
	obs.Note(fmt.Sprintf("%s reported AllInjected %s after it was created", name, c.Clock.Since(start).Round(time.Millisecond)))
	return nil
}

func injected(conds []chaosv1alpha1.ChaosCondition) bool {
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

// Delete deletes a Chaos Mesh object named Kind/namespace/name and waits
// until it is gone: Chaos Mesh recovers the targets in its finalizer. An
// object that is gone, or a cluster without Chaos Mesh, is fine.
func (c Client) Delete(ctx context.Context, name string) error {
	kind, rest, ok := strings.Cut(name, "/")
	if !ok {
		return fmt.Errorf("chaos target %q is not Kind/namespace/name", name)
	}
	ns, n, err := objects.SplitKey(rest)
	if err != nil {
		return err
	}
	obj, err := New(v1alpha1.ChaosKind(kind))
	if err != nil {
		return err
	}
	if err := Check(c.Discovery, v1alpha1.ChaosKind(kind)); errors.Is(err, ErrMissing) {
		return nil // without the API no such object can exist
	}
	obj.SetNamespace(ns)
	obj.SetName(n)
	if err := c.Client.Delete(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) || IsNoKind(err) {
			return nil
		}
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, c.PollInterval, c.Timeout, true, func(ctx context.Context) (bool, error) {
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
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

// Marked lists the Chaos Mesh objects of namespaces that firedrill created
// and filter matches, of the kinds the cluster serves; a cluster without
// Chaos Mesh has none.
func (c Client) Marked(ctx context.Context, namespaces []string, filter marks.Filter) ([]marks.Object, error) {
	var out []marks.Object
	for _, kind := range Kinds {
		if err := Check(c.Discovery, kind); errors.Is(err, ErrMissing) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, ns := range namespaces {
			list, items := NewList(kind)
			if err := c.Client.List(ctx, list, client.InNamespace(ns), client.HasLabels{marks.LabelRunID}); err != nil {
				if IsNoKind(err) {
					break
				}
				return nil, fmt.Errorf("listing %s in %s: %w", kind, ns, err)
			}
			for _, obj := range items() {
				if m, ok := filter.Created(obj); ok {
					out = append(out, m.On(evidence.Target{Kind: evidence.KindChaos, Name: TargetName(kind, obj.GetNamespace(), obj.GetName())}))
				}
			}
		}
	}
	return out, nil
}

// IsNoKind says whether the error means the API does not serve the kind.
func IsNoKind(err error) bool {
	return meta.IsNoMatchError(err) || discovery.IsGroupDiscoveryFailedError(err)
}
