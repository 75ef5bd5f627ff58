package storeoutage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// Observer hears what an outage does, as it happens.
type Observer interface {
	// TookEffect says a disruptive call succeeded now.
	TookEffect()
	// Note records an observation for the report.
	Note(msg string)
}

// Outage makes a plan's model store fail.
type Outage struct {
	// Client reads live and writes.
	Client client.Client
	// Chaos creates and deletes Chaos Mesh objects.
	Chaos chaos.Client
	// Allowed are the namespaces faults may touch (safety.namespaces).
	Allowed []string
	// Namespace is the target namespace, the default of workload refs.
	Namespace string
	// Namespaces are where created NetworkPolicies are looked for (the
	// watched namespaces).
	Namespaces []string
	// System is the plan's system: its inference workloads and store.
	System v1alpha1.System
	// Scope says which region unlabelled nodes are in.
	Scope objects.Scope
}

// Method is an outage's method, defaulted as the API defaults it
// (journals of older runs may lack it).
func Method(o *v1alpha1.ModelStoreOutage) v1alpha1.OutageMethod {
	switch {
	case o.Method != "":
		return o.Method
	case o.Mode == "" || o.Mode == v1alpha1.OutageUnavailable:
		return v1alpha1.OutageScaleToZero
	default:
		return v1alpha1.OutageChaosMesh
	}
}

// CheckMode refuses what validation refuses too, for plans that skipped
// it (slow and hang need Chaos Mesh), and method chaosMesh on a cluster
// that does not serve Chaos Mesh's NetworkChaos, so that a dry run says so
// before anything is touched.
func (o Outage) CheckMode(out *v1alpha1.ModelStoreOutage) error {
	switch out.Mode {
	case "", v1alpha1.OutageUnavailable, v1alpha1.OutageSlow, v1alpha1.OutageHang:
	default:
		return fmt.Errorf("model store outage mode %s: %w", out.Mode, platform.ErrUnsupported)
	}
	switch m := Method(out); m {
	case v1alpha1.OutageChaosMesh:
		if err := chaos.Check(o.Chaos.Discovery, "NetworkChaos"); err != nil {
			if errors.Is(err, chaos.ErrMissing) {
				return fmt.Errorf("model store outage mode %s with method chaosMesh: %w on this cluster: %w", out.Mode, platform.ErrUnsupported, err)
			}
			return err
		}
		return nil
	case v1alpha1.OutageScaleToZero, v1alpha1.OutageNetworkPolicy:
		if out.Mode == v1alpha1.OutageSlow || out.Mode == v1alpha1.OutageHang {
			return fmt.Errorf("model store outage mode %s with method %s: %w: a slow or hung store needs method chaosMesh (a NetworkChaos delay or packet loss)",
				out.Mode, m, platform.ErrUnsupported)
		}
		return nil
	default:
		return fmt.Errorf("model store outage method %s: %w", m, platform.ErrUnsupported)
	}
}

// StoreRef is the model store workload of the plan, defaulted; its
// namespace must be in safety.namespaces.
func (o Outage) StoreRef() (v1alpha1.WorkloadRef, error) {
	ms := o.System.ModelStore
	if ms == nil || ms.Workload == nil {
		return v1alpha1.WorkloadRef{}, errors.New("a model store outage on kubernetes needs system.modelStore.workload")
	}
	ref := objects.DefaultRef(*ms.Workload, o.Namespace)
	if err := objects.NamespaceAllowed(o.Allowed, ref.Namespace); err != nil {
		return ref, err
	}
	return ref, nil
}

// Inject makes the store fail by the outage's method: scaleToZero,
// networkPolicy or chaosMesh. It is idempotent.
func (o Outage) Inject(ctx context.Context, out *v1alpha1.ModelStoreOutage, store v1alpha1.WorkloadRef, m marks.Mark, obs Observer) error {
	if err := o.CheckMode(out); err != nil {
		return err
	}
	switch Method(out) {
	case v1alpha1.OutageNetworkPolicy:
		return o.netpolOutage(ctx, out, store, m, obs)
	case v1alpha1.OutageChaosMesh:
		return o.chaosOutage(ctx, out, store, m, obs)
	default:
		return workloads.ScaleToZero(ctx, o.Client, o.Allowed, store, m, obs)
	}
}

// Revert undoes an outage by its method. Every method's revert is a no-op
// when its objects are gone or were never made, so a journal of a crashed
// run is reverted whatever it got to. out may be nil (a journal without
// the plan): the store's scale is restored from its marks.
func (o Outage) Revert(ctx context.Context, out *v1alpha1.ModelStoreOutage, store v1alpha1.WorkloadRef, m marks.Mark) error {
	if out == nil {
		return workloads.RestoreScale(ctx, o.Client, store, m)
	}
	switch Method(out) {
	case v1alpha1.OutageNetworkPolicy:
		return o.deleteNetpols(ctx, m)
	case v1alpha1.OutageChaosMesh:
		return o.Chaos.Delete(ctx, chaos.TargetName("NetworkChaos", store.Namespace, objects.ObjectName(m.RunID, m.Fault)))
	default:
		return workloads.RestoreScale(ctx, o.Client, store, m)
	}
}

// Objects lists what an outage creates or changes, for dry runs: the
// store workload it scales (scaleToZero), the NetworkPolicies it creates,
// or its NetworkChaos. It reads the cluster live, as Targets does.
func (o Outage) Objects(ctx context.Context, out *v1alpha1.ModelStoreOutage, m marks.Mark) ([]string, error) {
	if err := o.CheckMode(out); err != nil {
		return nil, err
	}
	store, err := o.StoreRef()
	if err != nil {
		return nil, err
	}
	switch Method(out) {
	case v1alpha1.OutageNetworkPolicy:
		c, err := o.cut(ctx, out.Region, store, nil)
		if err != nil {
			return nil, err
		}
		nps, err := BuildNetpols(m, c)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(nps))
		for i, np := range nps {
			names[i] = "NetworkPolicy/" + np.Namespace + "/" + np.Name
		}
		return names, nil
	case v1alpha1.OutageChaosMesh:
		return []string{chaos.TargetName("NetworkChaos", store.Namespace, objects.ObjectName(m.RunID, m.Fault))}, nil
	default:
		return []string{objects.WorkloadName(store)}, nil
	}
}

// InferencePods lists the running pods of the plan's inference workloads,
// in region when set, sorted by name.
func (o Outage) InferencePods(ctx context.Context, region string) ([]corev1.Pod, error) {
	selectors := map[string][]*metav1.LabelSelector{}
	for _, r := range o.System.Workloads {
		r = objects.DefaultRef(r, o.Namespace)
		w, err := workloads.Get(ctx, o.Client, r)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getting %s: %w", objects.WorkloadName(r), err)
		}
		selectors[r.Namespace] = append(selectors[r.Namespace], w.Selector)
	}
	return pods.OfWorkloads(ctx, o.Client, selectors, region, o.Scope)
}

// StoreChaos builds the NetworkChaos that makes the store fail: on the
// store's pods (in the outage's region when set), every packet they send
// is delayed by the plan's latency (slow) or dropped (hang, and
// unavailable: Chaos Mesh cannot make a store refuse connections, so an
// unavailable store is one that no longer answers; scaleToZero gives
// refused connections).
func StoreChaos(out *v1alpha1.ModelStoreOutage, m marks.Mark, store v1alpha1.WorkloadRef, selector *metav1.LabelSelector) (*chaosv1alpha1.NetworkChaos, error) {
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		return nil, fmt.Errorf("%s has an empty selector: a NetworkChaos on it would select every pod of %s", objects.WorkloadName(store), store.Namespace)
	}
	nc := &chaosv1alpha1.NetworkChaos{
		TypeMeta: metav1.TypeMeta{APIVersion: chaosv1alpha1.SchemeGroupVersion.String(), Kind: "NetworkChaos"},
		ObjectMeta: metav1.ObjectMeta{
			Name: objects.ObjectName(m.RunID, m.Fault), Namespace: store.Namespace,
			Annotations: map[string]string{marks.AnnotationStore: objects.WorkloadName(store)},
		},
		Spec: chaosv1alpha1.NetworkChaosSpec{
			PodSelector: chaosv1alpha1.PodSelector{
				Mode: chaosv1alpha1.AllMode,
				Selector: chaosv1alpha1.PodSelectorSpec{GenericSelectorSpec: chaosv1alpha1.GenericSelectorSpec{
					Namespaces:          []string{store.Namespace},
					LabelSelectors:      maps.Clone(selector.MatchLabels),
					ExpressionSelectors: slices.Clone(selector.MatchExpressions),
				}},
			},
			Direction: chaosv1alpha1.To,
		},
	}
	if out.Region != "" {
		nc.Spec.Selector.NodeSelectors = map[string]string{objects.LabelRegion: out.Region}
	}
	switch out.Mode {
	case v1alpha1.OutageSlow:
		if out.Latency == nil || out.Latency.Duration <= 0 {
			return nil, errors.New("model store outage mode slow needs a latency")
		}
		nc.Spec.Action = chaosv1alpha1.DelayAction
		// Chaos Mesh takes a number and one unit ("1500ms"), not Go's "1m30s".
		latency := strconv.FormatInt(out.Latency.Milliseconds(), 10) + "ms"
		nc.Spec.Delay = &chaosv1alpha1.DelaySpec{Latency: latency, Correlation: "0", Jitter: "0ms"}
	default:
		nc.Spec.Action = chaosv1alpha1.LossAction
		nc.Spec.Loss = &chaosv1alpha1.LossSpec{Loss: "100", Correlation: "0"}
	}
	marks.Created(nc, m)
	return nc, nil
}

// chaosOutage creates the store's NetworkChaos and waits until Chaos Mesh
// reports it injected.
func (o Outage) chaosOutage(ctx context.Context, out *v1alpha1.ModelStoreOutage, store v1alpha1.WorkloadRef, m marks.Mark, obs Observer) error {
	w, err := workloads.Get(ctx, o.Client, store)
	if err != nil {
		return fmt.Errorf("getting %s: %w", objects.WorkloadName(store), err)
	}
	nc, err := StoreChaos(out, m, store, w.Selector)
	if err != nil {
		return err
	}
	if err := o.Chaos.Apply(ctx, nc, chaos.TargetName("NetworkChaos", nc.Namespace, nc.Name), m, obs); err != nil {
		return err
	}
	obs.TookEffect()
	return nil
}
