package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// MarkedObject is an object that carries a run's marks: a fault of that
// run is (or was left) in effect on it, or the run created it.
type MarkedObject struct {
	// Target is the object as a target of this platform.
	Target platform.Target
	// RunID and Fault are the run and step that marked it.
	RunID, Fault string
}

// markFilter matches marks against a run and fault; empty matches any.
type markFilter struct{ runID, faultID string }

// changed matches an object firedrill changed, by its annotations.
func (mf markFilter) changed(ann map[string]string) (mark, bool) {
	m, ok := owner(ann)
	if !ok || (mf.runID != "" && m.RunID != mf.runID) || (mf.faultID != "" && m.Fault != mf.faultID) {
		return mark{}, false
	}
	return m, true
}

// created matches an object firedrill created, by its annotations or,
// failing those, its labels.
func (mf markFilter) created(obj metav1.Object) (mark, bool) {
	m, ok := createdOwner(obj)
	if !ok {
		return mark{}, false
	}
	_, annotated := owner(obj.GetAnnotations())
	same := func(got, want string) bool {
		return want == "" || got == want || (!annotated && got == labelValue(want))
	}
	if !same(m.RunID, mf.runID) || !same(m.Fault, mf.faultID) {
		return mark{}, false
	}
	return m, true
}

// markedKind is one kind of object firedrill marks: list finds the marked
// objects, and revertOne undoes a fault on the targets it returns. To
// teach recovery a new kind, add it to markedKinds.
type markedKind struct {
	name string
	list func(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error)
}

// markedKinds are the kinds Marked looks at, in the order recovery visits
// them.
func markedKinds() []markedKind {
	return []markedKind{
		{name: "nodes", list: markedNodes},
		{name: "workloads", list: markedWorkloads},
		{name: "networkpolicies", list: markedNetpols},
		{name: "chaos mesh objects", list: markedChaos},
		{name: "traffic switch objects", list: markedSwitches},
	}
}

// Marked lists the nodes, Deployments and StatefulSets that carry marks
// and the NetworkPolicies and Chaos Mesh objects firedrill created. Empty
// runID or faultID match any. Namespaced objects are looked for in the
// namespaces the platform watches.
func (p *Platform) Marked(ctx context.Context, runID, faultID string) ([]MarkedObject, error) {
	mf := markFilter{runID: runID, faultID: faultID}
	var out []MarkedObject
	for _, k := range markedKinds() {
		found, err := k.list(ctx, p, mf)
		if err != nil {
			return nil, fmt.Errorf("finding marked %s: %w", k.name, err)
		}
		out = append(out, found...)
	}
	return out, nil
}

func markedNodes(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error) {
	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var out []MarkedObject
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if m, ok := mf.changed(n.Annotations); ok {
			out = append(out, MarkedObject{Target: platform.Target{Kind: KindNode, Name: n.Name, Region: regionOfNode(n)}, RunID: m.RunID, Fault: m.Fault})
		}
	}
	return out, nil
}

func markedWorkloads(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error) {
	var out []MarkedObject
	add := func(kind v1alpha1.WorkloadKind, om *metav1.ObjectMeta) {
		if m, ok := mf.changed(om.Annotations); ok {
			ref := v1alpha1.WorkloadRef{Kind: kind, Namespace: om.Namespace, Name: om.Name}
			out = append(out, MarkedObject{Target: platform.Target{Kind: KindWorkload, Name: workloadName(ref)}, RunID: m.RunID, Fault: m.Fault})
		}
	}
	for _, ns := range p.watchedNamespaces() {
		deps, err := p.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			add(v1alpha1.WorkloadDeployment, &deps.Items[i].ObjectMeta)
		}
		sts, err := p.cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			add(v1alpha1.WorkloadStatefulSet, &sts.Items[i].ObjectMeta)
		}
	}
	return out, nil
}

func markedNetpols(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error) {
	var out []MarkedObject
	for _, ns := range p.watchedNamespaces() {
		nps, err := p.listMarkedNetpols(ctx, ns)
		if err != nil {
			return nil, err
		}
		for i := range nps {
			if m, ok := mf.created(&nps[i]); ok {
				out = append(out, MarkedObject{Target: platform.Target{Kind: KindNetworkPolicy, Name: nps[i].Namespace + "/" + nps[i].Name}, RunID: m.RunID, Fault: m.Fault})
			}
		}
	}
	return out, nil
}

// markedChaos lists the Chaos Mesh objects firedrill created, of the kinds
// the cluster serves; a cluster without Chaos Mesh has none.
func markedChaos(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error) {
	var out []MarkedObject
	for _, kind := range chaosKinds {
		if err := p.checkChaosMesh(ctx, kind); errors.Is(err, ErrChaosMeshMissing) {
			continue
		} else if err != nil {
			return nil, err
		}
		for _, ns := range p.watchedNamespaces() {
			list, items := newChaosList(kind)
			if err := p.client.List(ctx, list, client.InNamespace(ns), client.HasLabels{LabelRunID}); err != nil {
				if isNoKind(err) {
					break
				}
				return nil, fmt.Errorf("listing %s in %s: %w", kind, ns, err)
			}
			for _, obj := range items() {
				if m, ok := mf.created(obj); ok {
					out = append(out, MarkedObject{Target: platform.Target{Kind: KindChaos, Name: chaosTargetName(kind, obj.GetNamespace(), obj.GetName())}, RunID: m.RunID, Fault: m.Fault})
				}
			}
		}
	}
	return out, nil
}

// Recover implements platform.Recoverer: it reverts a fault a dead run
// left in effect, on the journaled targets and on every object that still
// carries the fault's marks (so an object marked just before the crash is
// found even when the journal is incomplete). It needs no Start: it reads
// the cluster live. A manual cutover fails traffic back.
func (p *Platform) Recover(ctx context.Context, f platform.Fault, targets []platform.Target) error {
	logger := log.FromContext(ctx).With("run", f.RunID, "step", f.ID)
	marked, err := p.Marked(ctx, f.RunID, f.ID)
	if err != nil {
		return err
	}
	all := slices.Clone(targets)
	for _, mo := range marked {
		// A store shows up as a workload: same object, same revert.
		if !slices.ContainsFunc(all, func(t platform.Target) bool { return t.Name == mo.Target.Name }) {
			all = append(all, mo.Target)
		}
	}
	var errs []error
	for _, t := range all {
		logger.Info("recovering", "target", t.Kind+"/"+t.Name)
		if err := p.revertOne(ctx, f, t); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", t.Kind, t.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if f.Spec.RegionCutover != nil {
		return p.maybeFailBack(ctx, f, true)
	}
	return nil
}

// RecoverAll reverts every fault whose marks are left on nodes and
// workloads by runs for which dead returns true, without a journal: for a
// machine that lost its state directory. It returns what it found.
func (p *Platform) RecoverAll(ctx context.Context, dead func(runID string) bool) ([]MarkedObject, error) {
	marked, err := p.Marked(ctx, "", "")
	if err != nil {
		return nil, err
	}
	var found []MarkedObject
	var errs []error
	for _, mo := range marked {
		if !dead(mo.RunID) {
			continue
		}
		found = append(found, mo)
		// Without the journal the fault's spec is unknown; every kind
		// Marked returns reverts from the object's own marks.
		f := platform.Fault{RunID: mo.RunID, ID: mo.Fault}
		if err := p.revertOne(ctx, f, mo.Target); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", mo.Target.Kind, mo.Target.Name, err))
		}
	}
	return found, errors.Join(errs...)
}

// revertOne reverts one target without the traffic fail-back.
func (p *Platform) revertOne(ctx context.Context, f platform.Fault, t platform.Target) error {
	m := mark{RunID: f.RunID, Fault: f.ID}
	switch t.Kind {
	case KindPod:
		return nil
	case KindNode:
		return p.uncordon(ctx, t.Name, nil, m)
	case KindWorkload:
		ref, err := parseWorkload(t.Name)
		if err != nil {
			return err
		}
		return p.restoreScale(ctx, ref, m)
	case KindStore:
		return p.revertStore(ctx, f, t)
	case KindChaos:
		return p.deleteChaos(ctx, t.Name)
	case KindNetworkPolicy:
		return p.deleteNetpol(ctx, t.Name)
	case KindService, KindHTTPRoute:
		return p.restoreSwitch(ctx, t, m)
	}
	return fmt.Errorf("target %s/%s: %w", t.Kind, t.Name, platform.ErrUnsupported)
}
