package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Finalizer is the finalizer Chaos Mesh's controller puts on every
// chaos object, and removes once it has recovered the object's targets.
const Finalizer = "chaos-mesh/records"

// Kinds are the Chaos Mesh kinds firedrill creates, whose CRDs
// framework's Cluster.InstallChaosMeshCRDs installs.
var Kinds = []string{"PodChaos", "NetworkChaos", "IOChaos", "StressChaos"}

// standInInterval is how often the stand-in re-reads the chaos objects.
const standInInterval = 100 * time.Millisecond

// StandIn stands in for Chaos Mesh's controller, which cannot
// run in the test bed: it injects faults through chaos-daemon, which needs
// each node's container runtime, and kwok's nodes have none. It is NOT
// Chaos Mesh and injects nothing; it writes only what Chaos Mesh's
// controller writes on the objects, so that a client waiting on them sees
// the real object lifecycle through the real API server:
//
//   - a new object gets the finalizer chaos-mesh/records;
//   - its spec.selector is resolved to pods (namespaces, defaulted to the
//     object's own as Chaos Mesh's webhook does, labelSelectors,
//     expressionSelectors, nodeSelectors and mode); other selector fields
//     are reported as not selected rather than guessed;
//   - status.experiment gets desiredPhase Run and a record per selected
//     pod, and status.conditions Selected, AllInjected, AllRecovered and
//     Paused, as Chaos Mesh sets them: AllInjected is True once every
//     record is injected, which the stand-in does at once unless
//     SetInjecting(false) holds it back (as a Chaos Mesh whose daemon
//     cannot reach a node does);
//   - a deleted object has its records recovered (AllRecovered True) and
//     its finalizer removed, so the API server deletes it.
//
// The generated CRDs have no status subresource (Chaos Mesh's experiment
// kinds declare none), so status is written by updating the object.
type StandIn struct {
	c         client.Client
	injecting atomic.Bool
	done      chan struct{}

	mu        sync.Mutex
	injected  map[string]bool
	recovered map[string]bool
	lastErr   error
}

// Start starts the stand-in for the kinds in Kinds, in every namespace of
// the cluster at cfg, until the test ends. Install the CRDs first
// (framework's Cluster.InstallChaosMeshCRDs).
func Start(ctx context.Context, tb testing.TB, cfg *rest.Config) *StandIn {
	tb.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		tb.Fatalf("chaos mesh stand-in: %v", err)
	}
	if err := chaosv1alpha1.AddToScheme(scheme); err != nil {
		tb.Fatalf("chaos mesh stand-in: %v", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		tb.Fatalf("chaos mesh stand-in: %v", err)
	}
	s := &StandIn{c: cl, done: make(chan struct{}), injected: map[string]bool{}, recovered: map[string]bool{}}
	s.injecting.Store(true)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go s.run(ctx)
	tb.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// SetInjecting says whether selected targets are reported injected (true,
// the default) or left not injected, AllInjected False.
func (s *StandIn) SetInjecting(on bool) { s.injecting.Store(on) }

// Injected lists, as Kind/namespace/name, the objects the stand-in has
// reported AllInjected.
func (s *StandIn) Injected() []string { return s.keys(s.injected) }

// Recovered lists, as Kind/namespace/name, the deleted objects whose
// finalizer the stand-in removed after recovering them.
func (s *StandIn) Recovered() []string { return s.keys(s.recovered) }

// Err is the last error other than a conflict the stand-in met, if any.
func (s *StandIn) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *StandIn) keys(m map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *StandIn) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(standInInterval)
	defer t.Stop()
	for {
		for _, kind := range Kinds {
			if err := s.reconcileKind(ctx, kind); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				s.mu.Lock()
				s.lastErr = err
				s.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// chaosObject is a Chaos Mesh experiment object.
type chaosObject interface {
	client.Object
	GetStatus() *chaosv1alpha1.ChaosStatus
}

// listChaos lists every object of kind.
func (s *StandIn) listChaos(ctx context.Context, kind string) ([]chaosObject, error) {
	var out []chaosObject
	switch kind {
	case "PodChaos":
		var l chaosv1alpha1.PodChaosList
		if err := s.c.List(ctx, &l); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case "NetworkChaos":
		var l chaosv1alpha1.NetworkChaosList
		if err := s.c.List(ctx, &l); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case "IOChaos":
		var l chaosv1alpha1.IOChaosList
		if err := s.c.List(ctx, &l); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case "StressChaos":
		var l chaosv1alpha1.StressChaosList
		if err := s.c.List(ctx, &l); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	default:
		return nil, fmt.Errorf("chaos mesh stand-in: kind %s is not handled", kind)
	}
	return out, nil
}

// podSelectorOf is the pod selector of an object.
func podSelectorOf(obj chaosObject) chaosv1alpha1.PodSelector {
	switch o := obj.(type) {
	case *chaosv1alpha1.PodChaos:
		return o.Spec.PodSelector
	case *chaosv1alpha1.NetworkChaos:
		return o.Spec.PodSelector
	case *chaosv1alpha1.IOChaos:
		return o.Spec.PodSelector
	case *chaosv1alpha1.StressChaos:
		return o.Spec.PodSelector
	}
	return chaosv1alpha1.PodSelector{}
}

func (s *StandIn) reconcileKind(ctx context.Context, kind string) error {
	objs, err := s.listChaos(ctx, kind)
	if err != nil {
		return fmt.Errorf("listing %s: %w", kind, err)
	}
	for _, obj := range objs {
		key := kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
		if err := s.reconcile(ctx, key, obj); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func (s *StandIn) reconcile(ctx context.Context, key string, obj chaosObject) error {
	st := obj.GetStatus()
	if obj.GetDeletionTimestamp() != nil {
		if !controllerutil.ContainsFinalizer(obj, Finalizer) {
			return nil
		}
		for _, r := range st.Experiment.Records {
			if r.Phase == chaosv1alpha1.Injected {
				r.Phase = chaosv1alpha1.NotInjected
				r.RecoveredCount++
			}
		}
		setCondition(st, chaosv1alpha1.ConditionAllInjected, corev1.ConditionFalse)
		setCondition(st, chaosv1alpha1.ConditionAllRecovered, corev1.ConditionTrue)
		controllerutil.RemoveFinalizer(obj, Finalizer)
		if err := s.c.Update(ctx, obj); err != nil {
			return fmt.Errorf("recovering: %w", err)
		}
		s.mu.Lock()
		s.recovered[key] = true
		s.mu.Unlock()
		return nil
	}
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		controllerutil.AddFinalizer(obj, Finalizer)
		if err := s.c.Update(ctx, obj); err != nil {
			return fmt.Errorf("adding the finalizer: %w", err)
		}
		return nil // the status follows on the next pass
	}
	pods, reason, err := s.selectPods(ctx, obj.GetNamespace(), podSelectorOf(obj))
	if err != nil {
		return err
	}
	want := desiredStatus(*st, pods, reason, s.injecting.Load())
	if statusEqual(*st, want) {
		return nil
	}
	*st = want
	if err := s.c.Update(ctx, obj); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if chaosAllInjected(want) {
		s.mu.Lock()
		s.injected[key] = true
		s.mu.Unlock()
	}
	return nil
}

// desiredStatus is the status Chaos Mesh's controller would reach for the
// selected pods.
func desiredStatus(cur chaosv1alpha1.ChaosStatus, pods []string, reason string, inject bool) chaosv1alpha1.ChaosStatus {
	prior := map[string]*chaosv1alpha1.Record{}
	for _, r := range cur.Experiment.Records {
		prior[r.Id] = r
	}
	st := chaosv1alpha1.ChaosStatus{Experiment: chaosv1alpha1.ExperimentStatus{DesiredPhase: chaosv1alpha1.RunningPhase}}
	for _, id := range pods {
		r := &chaosv1alpha1.Record{Id: id, SelectorKey: ".", Phase: chaosv1alpha1.NotInjected}
		if p, ok := prior[id]; ok {
			r.InjectedCount, r.RecoveredCount = p.InjectedCount, p.RecoveredCount
		}
		if inject {
			r.Phase = chaosv1alpha1.Injected
			if r.InjectedCount == 0 {
				r.InjectedCount = 1
			}
		}
		st.Experiment.Records = append(st.Experiment.Records, r)
	}
	selected, injected := corev1.ConditionFalse, corev1.ConditionFalse
	if len(pods) > 0 {
		selected = corev1.ConditionTrue
		if inject {
			injected = corev1.ConditionTrue
		}
	}
	st.Conditions = []chaosv1alpha1.ChaosCondition{
		{Type: chaosv1alpha1.ConditionSelected, Status: selected, Reason: reason},
		{Type: chaosv1alpha1.ConditionAllInjected, Status: injected},
		{Type: chaosv1alpha1.ConditionAllRecovered, Status: corev1.ConditionFalse},
		{Type: chaosv1alpha1.ConditionPaused, Status: corev1.ConditionFalse},
	}
	return st
}

func statusEqual(a, b chaosv1alpha1.ChaosStatus) bool {
	if !slices.Equal(a.Conditions, b.Conditions) || a.Experiment.DesiredPhase != b.Experiment.DesiredPhase ||
		len(a.Experiment.Records) != len(b.Experiment.Records) {
		return false
	}
	for i := range a.Experiment.Records {
		ra, rb := a.Experiment.Records[i], b.Experiment.Records[i]
		if ra.Id != rb.Id || ra.Phase != rb.Phase || ra.InjectedCount != rb.InjectedCount {
			return false
		}
	}
	return true
}

func chaosAllInjected(st chaosv1alpha1.ChaosStatus) bool {
	return slices.ContainsFunc(st.Conditions, func(c chaosv1alpha1.ChaosCondition) bool {
		return c.Type == chaosv1alpha1.ConditionAllInjected && c.Status == corev1.ConditionTrue
	})
}

func setCondition(st *chaosv1alpha1.ChaosStatus, t chaosv1alpha1.ChaosConditionType, v corev1.ConditionStatus) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			st.Conditions[i].Status = v
			return
		}
	}
	st.Conditions = append(st.Conditions, chaosv1alpha1.ChaosCondition{Type: t, Status: v})
}

// selectPods resolves a Chaos Mesh pod selector to namespace/name of pods,
// sorted, limited by the selector's mode. reason explains an empty result
// the stand-in cannot resolve.
func (s *StandIn) selectPods(ctx context.Context, objNamespace string, ps chaosv1alpha1.PodSelector) ([]string, string, error) {
	sel := ps.Selector
	if len(sel.FieldSelectors) > 0 || len(sel.AnnotationSelectors) > 0 || len(sel.Nodes) > 0 || len(sel.Pods) > 0 || len(sel.PodPhaseSelectors) > 0 {
		return nil, "the firedrill stand-in resolves only namespaces, labelSelectors, expressionSelectors and nodeSelectors", nil
	}
	ls, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: sel.LabelSelectors, MatchExpressions: sel.ExpressionSelectors})
	if err != nil {
		return nil, "invalid selector: " + err.Error(), nil //nolint:nilerr // reported in the condition, as Chaos Mesh does
	}
	var onNodes map[string]bool
	if len(sel.NodeSelectors) > 0 {
		var nodes corev1.NodeList
		if err := s.c.List(ctx, &nodes, client.MatchingLabels(sel.NodeSelectors)); err != nil {
			return nil, "", fmt.Errorf("listing nodes: %w", err)
		}
		onNodes = map[string]bool{}
		for _, n := range nodes.Items {
			onNodes[n.Name] = true
		}
	}
	namespaces := sel.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{objNamespace}
	}
	var out []string
	for _, ns := range namespaces {
		var pods corev1.PodList
		if err := s.c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: ls}); err != nil {
			return nil, "", fmt.Errorf("listing pods in %s: %w", ns, err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || (onNodes != nil && !onNodes[p.Spec.NodeName]) {
				continue
			}
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(out)
	n := len(out)
	switch ps.Mode {
	case chaosv1alpha1.OneMode:
		n = min(n, 1)
	case chaosv1alpha1.FixedMode:
		if v, err := strconv.Atoi(ps.Value); err == nil {
			n = min(n, v)
		}
	}
	if len(out) == 0 {
		return nil, "no pod matches the selector", nil
	}
	return out[:n], "", nil
}
