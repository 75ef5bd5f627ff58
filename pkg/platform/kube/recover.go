package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// MarkedObject is a node or workload that carries a run's marks: a fault
// of that run is (or was left) in effect on it.
type MarkedObject struct {
	// Target is the object as a target of this platform.
	Target platform.Target
	// RunID and Fault are the run and step that marked it.
	RunID, Fault string
}

// Marked lists the nodes, Deployments and StatefulSets that carry marks.
// Empty runID or faultID match any. Workloads are looked for in the
// namespaces the platform watches.
func (p *Platform) Marked(ctx context.Context, runID, faultID string) ([]MarkedObject, error) {
	match := func(ann map[string]string) (mark, bool) {
		m, ok := owner(ann)
		if !ok || (runID != "" && m.RunID != runID) || (faultID != "" && m.Fault != faultID) {
			return mark{}, false
		}
		return m, true
	}
	var out []MarkedObject
	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if m, ok := match(n.Annotations); ok {
			out = append(out, MarkedObject{Target: platform.Target{Kind: KindNode, Name: n.Name, Region: regionOfNode(n)}, RunID: m.RunID, Fault: m.Fault})
		}
	}
	for _, ns := range p.watchedNamespaces() {
		deps, err := p.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			if m, ok := match(d.Annotations); ok {
				ref := v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadDeployment, Namespace: d.Namespace, Name: d.Name}
				out = append(out, MarkedObject{Target: platform.Target{Kind: KindWorkload, Name: workloadName(ref)}, RunID: m.RunID, Fault: m.Fault})
			}
		}
		sts, err := p.cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			s := &sts.Items[i]
			if m, ok := match(s.Annotations); ok {
				ref := v1alpha1.WorkloadRef{Kind: v1alpha1.WorkloadStatefulSet, Namespace: s.Namespace, Name: s.Name}
				out = append(out, MarkedObject{Target: platform.Target{Kind: KindWorkload, Name: workloadName(ref)}, RunID: m.RunID, Fault: m.Fault})
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
		m := mark{RunID: mo.RunID, Fault: mo.Fault}
		var err error
		switch mo.Target.Kind {
		case KindNode:
			err = p.uncordon(ctx, mo.Target.Name, m)
		case KindWorkload:
			ref, perr := parseWorkload(mo.Target.Name)
			if perr != nil {
				err = perr
				break
			}
			err = p.restoreScale(ctx, ref, m)
		}
		if err != nil {
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
		return p.uncordon(ctx, t.Name, m)
	case KindWorkload, KindStore:
		ref, err := parseWorkload(t.Name)
		if err != nil {
			return err
		}
		return p.restoreScale(ctx, ref, m)
	case KindChaos:
		return p.deleteChaos(ctx, t.Name)
	}
	return fmt.Errorf("target %s/%s: %w", t.Kind, t.Name, platform.ErrUnsupported)
}
