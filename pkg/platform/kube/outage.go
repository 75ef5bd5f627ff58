package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// storeOutage scales the model store to zero and, once per fault, deletes
// restartReplicas inference pods so that their replacements must start
// without the store.
func (p *Platform) storeOutage(ctx context.Context, f platform.Fault, t platform.Target) error {
	o := f.Spec.ModelStoreOutage
	if err := p.checkOutageMode(o); err != nil {
		return err
	}
	ref, err := parseWorkload(t.Name)
	if err != nil {
		return err
	}
	if err := p.scaleToZero(ctx, ref, mark{RunID: f.RunID, Fault: f.ID}); err != nil {
		return err
	}
	if o.RestartReplicas == 0 {
		return nil
	}
	st := p.state(f.ID)
	p.mu.Lock()
	done := st.restarts
	p.mu.Unlock()
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
	res, err := p.opts.Actions.Run(ctx, rc.Switch, map[string]string{
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
