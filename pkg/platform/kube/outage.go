package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// storeOutage makes the model store fail by the outage's method
// (scaleToZero, networkPolicy or chaosMesh) and, once per fault, deletes
// restartReplicas inference pods so that their replacements must start
// without the store.
func (p *Platform) storeOutage(ctx context.Context, f platform.Fault, t platform.Target) error {
	o := f.Spec.ModelStoreOutage
	if err := p.checkOutageMode(ctx, o); err != nil {
		return err
	}
	ref, err := parseWorkload(t.Name)
	if err != nil {
		return err
	}
	switch outageMethod(o) {
	case v1alpha1.OutageNetworkPolicy:
		err = p.storeNetpolOutage(ctx, f, ref)
	case v1alpha1.OutageChaosMesh:
		err = p.storeChaosOutage(ctx, f, ref)
	default:
		err = p.scaleToZero(ctx, ref, mark{RunID: f.RunID, Fault: f.ID})
	}
	if err != nil {
		return err
	}
	return p.restartInference(ctx, f)
}

// restartInference deletes restartReplicas inference pods, once per fault.
func (p *Platform) restartInference(ctx context.Context, f platform.Fault) error {
	o := f.Spec.ModelStoreOutage
	if o.RestartReplicas == 0 {
		return nil
	}
	st, done := p.stateAnd(f.ID, func(s *faultState) bool { return s.restarts })
	if done {
		return nil
	}
	pods, err := p.inferencePods(ctx, o.Region)
	if err != nil {
		return fmt.Errorf("finding inference pods to restart: %w", err)
	}
	n := min(int(o.RestartReplicas), len(pods))
	var names []string
	for i := range n {
		if err := p.killPod(ctx, f, podKey(&pods[i]), &metav1.Duration{}); err != nil {
			return fmt.Errorf("restarting inference pods during the outage: %w", err)
		}
		names = append(names, podKey(&pods[i]))
	}
	p.mu.Lock()
	st.restarts = true
	p.mu.Unlock()
	if n < int(o.RestartReplicas) {
		p.note(f.ID, "restartReplicas asked for %d restarts but only %d inference pods were running", o.RestartReplicas, n)
	}
	if n > 0 {
		p.note(f.ID, "restarted %s during the store outage", strings.Join(names, ", "))
	}
	return nil
}

// storeRef is the model store workload of the plan, defaulted.
func (p *Platform) storeRef() (v1alpha1.WorkloadRef, error) {
	ms := p.spec.System.ModelStore
	if ms == nil || ms.Workload == nil {
		return v1alpha1.WorkloadRef{}, fmt.Errorf("a model store outage on kubernetes needs system.modelStore.workload")
	}
	ref := *ms.Workload
	if ref.Kind == "" {
		ref.Kind = v1alpha1.WorkloadDeployment
	}
	if ref.Namespace == "" {
		ref.Namespace = p.namespace
	}
	if err := p.namespaceAllowed(ref.Namespace); err != nil {
		return ref, err
	}
	return ref, nil
}

// outageMethod is the outage's method, defaulted as the API defaults it
// (journals of older runs may lack it).
func outageMethod(o *v1alpha1.ModelStoreOutage) v1alpha1.OutageMethod {
	switch {
	case o.Method != "":
		return o.Method
	case o.Mode == "" || o.Mode == v1alpha1.OutageUnavailable:
		return v1alpha1.OutageScaleToZero
	default:
		return v1alpha1.OutageChaosMesh
	}
}

// checkOutageMode refuses what validation refuses too, for plans that
// skipped it (slow and hang need Chaos Mesh), and method chaosMesh on a
// cluster that does not serve Chaos Mesh's NetworkChaos, so that a dry
// run says so before anything is touched.
func (p *Platform) checkOutageMode(ctx context.Context, o *v1alpha1.ModelStoreOutage) error {
	switch o.Mode {
	case "", v1alpha1.OutageUnavailable, v1alpha1.OutageSlow, v1alpha1.OutageHang:
	default:
		return fmt.Errorf("model store outage mode %s: %w", o.Mode, platform.ErrUnsupported)
	}
	switch m := outageMethod(o); m {
	case v1alpha1.OutageChaosMesh:
		// Discovery takes no context; Targets, the caller, passes none yet.
		if err := p.checkChaosMesh(ctx, "NetworkChaos"); err != nil {
			if errors.Is(err, ErrChaosMeshMissing) {
				return fmt.Errorf("model store outage mode %s with method chaosMesh: %w on this cluster: %w", o.Mode, platform.ErrUnsupported, err)
			}
			return err
		}
		return nil
	case v1alpha1.OutageScaleToZero, v1alpha1.OutageNetworkPolicy:
		if o.Mode == v1alpha1.OutageSlow || o.Mode == v1alpha1.OutageHang {
			return fmt.Errorf("model store outage mode %s with method %s: %w: a slow or hung store needs method chaosMesh (a NetworkChaos delay or packet loss)",
				o.Mode, m, platform.ErrUnsupported)
		}
		return nil
	default:
		return fmt.Errorf("model store outage method %s: %w", m, platform.ErrUnsupported)
	}
}

// storeChaos builds the NetworkChaos that makes the store fail: on the
// store's pods (in the outage's region when set), every packet they send
// is delayed by the plan's latency (slow) or dropped (hang, and
// unavailable: Chaos Mesh cannot make a store refuse connections, so an
// unavailable store is one that no longer answers; scaleToZero gives
// refused connections).
func storeChaos(f platform.Fault, store v1alpha1.WorkloadRef, selector *metav1.LabelSelector) (*chaosv1alpha1.NetworkChaos, error) {
	o := f.Spec.ModelStoreOutage
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		return nil, fmt.Errorf("%s has an empty selector: a NetworkChaos on it would select every pod of %s", workloadName(store), store.Namespace)
	}
	nc := &chaosv1alpha1.NetworkChaos{
		TypeMeta: metav1.TypeMeta{APIVersion: chaosv1alpha1.SchemeGroupVersion.String(), Kind: "NetworkChaos"},
		ObjectMeta: metav1.ObjectMeta{
			Name: chaosName(f), Namespace: store.Namespace,
			Annotations: map[string]string{AnnotationStore: workloadName(store)},
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
	if o.Region != "" {
		nc.Spec.Selector.NodeSelectors = map[string]string{LabelRegion: o.Region}
	}
	switch o.Mode {
	case v1alpha1.OutageSlow:
		if o.Latency == nil || o.Latency.Duration <= 0 {
			return nil, fmt.Errorf("model store outage mode slow needs a latency")
		}
		nc.Spec.Action = chaosv1alpha1.DelayAction
		// Chaos Mesh takes a number and one unit ("1500ms"), not Go's "1m30s".
		latency := strconv.FormatInt(o.Latency.Milliseconds(), 10) + "ms"
		nc.Spec.Delay = &chaosv1alpha1.DelaySpec{Latency: latency, Correlation: "0", Jitter: "0ms"}
	default:
		nc.Spec.Action = chaosv1alpha1.LossAction
		nc.Spec.Loss = &chaosv1alpha1.LossSpec{Loss: "100", Correlation: "0"}
	}
	markCreated(nc, mark{RunID: f.RunID, Fault: f.ID})
	return nc, nil
}

// storeChaosOutage creates the store's NetworkChaos and waits until Chaos
// Mesh reports it injected.
func (p *Platform) storeChaosOutage(ctx context.Context, f platform.Fault, store v1alpha1.WorkloadRef) error {
	if err := p.checkChaosMesh(ctx, "NetworkChaos"); err != nil {
		return err
	}
	w, err := p.getWorkload(ctx, store)
	if err != nil {
		return fmt.Errorf("getting %s: %w", workloadName(store), err)
	}
	nc, err := storeChaos(f, store, w.selector)
	if err != nil {
		return err
	}
	return p.applyChaos(ctx, f, nc, chaosTargetName("NetworkChaos", nc.Namespace, nc.Name))
}

// revertStore undoes a store outage by its method. Every method's revert
// is a no-op when its objects are gone or were never made, so a journal
// of a crashed run is reverted whatever it got to.
func (p *Platform) revertStore(ctx context.Context, f platform.Fault, t platform.Target) error {
	ref, err := parseWorkload(t.Name)
	if err != nil {
		return err
	}
	m := mark{RunID: f.RunID, Fault: f.ID}
	if f.Spec == nil || f.Spec.ModelStoreOutage == nil {
		return p.restoreScale(ctx, ref, m)
	}
	switch outageMethod(f.Spec.ModelStoreOutage) {
	case v1alpha1.OutageNetworkPolicy:
		return p.deleteStoreNetpols(ctx, m)
	case v1alpha1.OutageChaosMesh:
		return p.deleteChaos(ctx, chaosTargetName("NetworkChaos", ref.Namespace, chaosName(f)))
	default:
		return p.restoreScale(ctx, ref, m)
	}
}

// StoreOutageObjects lists what a model store outage creates or changes,
// for dry runs: the store workload it scales (scaleToZero), the
// NetworkPolicies it creates, or its NetworkChaos. It reads the cluster
// live, as Targets does.
func (p *Platform) StoreOutageObjects(ctx context.Context, f platform.Fault) ([]string, error) {
	o := f.Spec.ModelStoreOutage
	if o == nil {
		return nil, fmt.Errorf("step %s is not a model store outage", f.ID)
	}
	if err := p.checkOutageMode(ctx, o); err != nil {
		return nil, err
	}
	store, err := p.storeRef()
	if err != nil {
		return nil, err
	}
	switch outageMethod(o) {
	case v1alpha1.OutageNetworkPolicy:
		cut, err := p.storeCut(ctx, f, store)
		if err != nil {
			return nil, err
		}
		nps, err := buildStoreNetpols(f, cut)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(nps))
		for i, np := range nps {
			out[i] = "NetworkPolicy/" + np.Namespace + "/" + np.Name
		}
		return out, nil
	case v1alpha1.OutageChaosMesh:
		if err := p.checkChaosMesh(ctx, "NetworkChaos"); err != nil {
			return nil, err
		}
		return []string{chaosTargetName("NetworkChaos", store.Namespace, chaosName(f))}, nil
	default:
		return []string{workloadName(store)}, nil
	}
}
