package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// cutover takes one target of the lost region down, then switches traffic
// once the whole region is down.
func (p *Platform) cutover(ctx context.Context, f platform.Fault, t platform.Target) error {
	rc := f.Spec.RegionCutover
	m := mark{RunID: f.RunID, Fault: f.ID}
	switch t.Kind {
	case KindNode:
		err := p.drainNode(ctx, f, t.Name, drainSettings{
			policy: v1alpha1.CapacityWarn, // a lost region is lost capacity by design
			movable: func(pod *corev1.Pod) bool {
				return workloadRegion(nil, &corev1.PodTemplateSpec{Spec: pod.Spec}) != rc.From
			},
		})
		if err != nil {
			return err
		}
	case KindWorkload:
		ref, err := parseWorkload(t.Name)
		if err != nil {
			return err
		}
		if err := p.scaleToZero(ctx, ref, m); err != nil {
			return err
		}
	}
	if rc.Traffic != v1alpha1.TrafficManual {
		return nil
	}
	st := p.state(f.ID)
	p.mu.Lock()
	switched := st.switched
	p.mu.Unlock()
	if switched {
		return nil
	}
	pending, err := p.regionPending(ctx, f)
	if err != nil || len(pending) > 0 {
		return err // the switch runs after the region's last target
	}
	if err := p.switchTraffic(ctx, f, "inject", rc.From, rc.To); err != nil {
		return err
	}
	p.mu.Lock()
	st.switched = true
	p.mu.Unlock()
	return nil
}

// regionPending lists the cutover's candidates this fault has not taken
// down yet.
func (p *Platform) regionPending(ctx context.Context, f platform.Fault) ([]string, error) {
	ts, err := p.cutoverTargets(ctx, f)
	if err != nil {
		return nil, err
	}
	m := mark{RunID: f.RunID, Fault: f.ID}
	var out []string
	for _, t := range ts {
		var ann map[string]string
		switch t.Kind {
		case KindNode:
			n, err := p.cs.CoreV1().Nodes().Get(ctx, t.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("getting node %s: %w", t.Name, err)
			}
			ann = n.Annotations
		case KindWorkload:
			ref, err := parseWorkload(t.Name)
			if err != nil {
				return nil, err
			}
			w, err := p.getWorkload(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("getting %s: %w", t.Name, err)
			}
			ann = w.meta.Annotations
		}
		if ownershipOf(ann, m) != ours {
			out = append(out, t.Kind+"/"+t.Name)
		}
	}
	return out, nil
}

// maybeFailBack switches traffic back to the cutover's region once no
// object carries this fault's marks any more. force runs it even when
// this process did not switch (crash recovery).
func (p *Platform) maybeFailBack(ctx context.Context, f platform.Fault, force bool) error {
	rc := f.Spec.RegionCutover
	if rc.Traffic != v1alpha1.TrafficManual || rc.Switch == nil {
		return nil
	}
	st := p.state(f.ID)
	p.mu.Lock()
	switched := st.switched
	p.mu.Unlock()
	if !switched && !force {
		return nil
	}
	left, err := p.Marked(ctx, f.RunID, f.ID)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return nil // the region is not back yet
	}
	if err := p.switchTraffic(ctx, f, "revert", rc.To, rc.From); err != nil {
		return err
	}
	p.mu.Lock()
	st.switched = false
	p.mu.Unlock()
	return nil
}

// switchTraffic runs the plan's switch action to move traffic from one
// region to another. The action learns the direction from its environment:
// FIREDRILL_PHASE (inject or revert), FIREDRILL_TRAFFIC_FROM and
// FIREDRILL_TRAFFIC_TO, plus the run and step.
func (p *Platform) switchTraffic(ctx context.Context, f platform.Fault, phase, from, to string) error {
	rc := f.Spec.RegionCutover
	res, err := p.opts.Actions.Run(ctx, &rc.Switch.Action, map[string]string{
		"FIREDRILL_RUN_ID": f.RunID, "FIREDRILL_STEP": f.ID, "FIREDRILL_PHASE": phase,
		"FIREDRILL_TRAFFIC_FROM": from, "FIREDRILL_TRAFFIC_TO": to,
		"FIREDRILL_CUTOVER_FROM": rc.From, "FIREDRILL_CUTOVER_TO": rc.To,
	})
	verb := "switched"
	if phase == "revert" {
		verb = "failed back"
	}
	if err != nil {
		p.note(f.ID, "traffic switch %s→%s FAILED after %s: %s", from, to, res.Duration().Round(time.Millisecond), err.Error())
		return fmt.Errorf("switching traffic from %s to %s: %w", from, to, err)
	}
	p.note(f.ID, "traffic %s %s→%s by the switch action in %s", verb, from, to, res.Duration().Round(time.Millisecond))
	return nil
}

func (p *Platform) cutoverTargets(ctx context.Context, f platform.Fault) ([]platform.Target, error) {
	rc := f.Spec.RegionCutover
	if rc.From == rc.To {
		return nil, fmt.Errorf("region cutover from %s to itself", rc.From)
	}
	nodes, err := p.nodesByName(ctx)
	if err != nil {
		return nil, err
	}
	survivors := 0
	for _, n := range nodes {
		if regionOfNode(n) == rc.To && !n.Spec.Unschedulable {
			survivors++
		}
	}
	if survivors == 0 {
		return nil, fmt.Errorf("region %s has no schedulable node (label %s) to take over", rc.To, LabelRegion)
	}
	if rc.Traffic == v1alpha1.TrafficManual && rc.Switch == nil {
		return nil, fmt.Errorf("region cutover with manual traffic needs a switch action")
	}
	if rc.Method == v1alpha1.CutoverScaleToZero {
		return p.workloadTargets(ctx, rc.From, mark{RunID: f.RunID, Fault: f.ID})
	}
	return p.nodeTargets(ctx, nil, rc.From, false, mark{RunID: f.RunID, Fault: f.ID})
}

// workloadTargets lists the Deployments and StatefulSets of the allowed
// namespaces that run in region (see workloadRegion) and have replicas to
// lose, or that this fault already scaled down.
func (p *Platform) workloadTargets(ctx context.Context, region string, m mark) ([]platform.Target, error) {
	var out []platform.Target
	add := func(kind v1alpha1.WorkloadKind, meta metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec, replicas *int32) {
		if workloadRegion(meta.Labels, tmpl) != region {
			return
		}
		switch ownershipOf(meta.Annotations, m) {
		case foreign:
			return
		case unowned:
			if replicasOf(replicas) == 0 {
				return
			}
		}
		ref := v1alpha1.WorkloadRef{Kind: kind, Namespace: meta.Namespace, Name: meta.Name}
		out = append(out, platform.Target{Kind: KindWorkload, Name: workloadName(ref), Region: region, Labels: meta.Labels})
	}
	for _, ns := range p.allowed {
		deps, err := p.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			add(v1alpha1.WorkloadDeployment, d.ObjectMeta, &d.Spec.Template, d.Spec.Replicas)
		}
		sts, err := p.cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			s := &sts.Items[i]
			add(v1alpha1.WorkloadStatefulSet, s.ObjectMeta, &s.Spec.Template, s.Spec.Replicas)
		}
	}
	return out, nil
}
