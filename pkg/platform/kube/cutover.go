package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// cutoverScope says what a cutover's region is. On one cluster a region is
// the nodes labelled with it and the workloads pinned to it. In a
// multi-cluster target (fleet.go) the lost region is a whole cluster: its
// nodes and workloads without a region of their own belong to it, and the
// surviving region is another cluster.
type cutoverScope struct {
	// cluster is the region of the whole cluster; empty on one cluster.
	cluster string
}

// nodeRegion is the region of a node in this scope.
func (s cutoverScope) nodeRegion(n *corev1.Node) string { return regionOr(regionOfNode(n), s.cluster) }

// workloadRegion is the region of a workload in this scope.
func (s cutoverScope) workloadRegion(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) string {
	return regionOr(workloadRegion(objLabels, tmpl), s.cluster)
}

// cutover takes one target of the lost region down, then switches traffic
// once the whole region is down.
func (p *Platform) cutover(ctx context.Context, f platform.Fault, t platform.Target) error {
	return p.cutoverIn(ctx, f, t, cutoverScope{})
}

func (p *Platform) cutoverIn(ctx context.Context, f platform.Fault, t platform.Target, scope cutoverScope) error {
	rc := f.Spec.RegionCutover
	m := mark{RunID: f.RunID, Fault: f.ID}
	switch t.Kind {
	case KindNode:
		ds := drainSettings{
			policy: v1alpha1.CapacityWarn, // a lost region is lost capacity by design
			// A lost region does not wait for disruption budgets: pods
			// pinned to it cannot be replaced, so evictions would stall
			// on their budgets until the drain times out.
			deletePods: true,
			movable: func(pod *corev1.Pod) bool {
				return scope.workloadRegion(nil, &corev1.PodTemplateSpec{Spec: pod.Spec}) != rc.From
			},
		}
		// The whole region goes down at its first node, cordoned before
		// any pod goes so that no pod moves within it; the other nodes
		// only wait for their pods to be gone.
		if err := p.takeRegionDown(ctx, f, scope, ds); err != nil {
			return err
		}
		if err := p.awaitRegionNode(ctx, f, t.Name, ds); err != nil {
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
	default:
		return fmt.Errorf("target %s/%s of region cutover %s: %w", t.Kind, t.Name, f.ID, platform.ErrUnsupported)
	}
	st := p.state(f.ID)
	p.mu.Lock()
	st.down[t.Kind+"/"+t.Name] = true
	switched := st.switched
	p.mu.Unlock()
	if rc.Traffic != v1alpha1.TrafficManual {
		return nil
	}
	if switched {
		return nil
	}
	pending, err := p.regionPending(ctx, f, t, scope)
	if err != nil || pending {
		return err // the switch runs after the region's last target
	}
	if err := p.switchTraffic(ctx, f, phaseInject, rc.From, rc.To); err != nil {
		return err
	}
	p.mu.Lock()
	st.switched = true
	p.mu.Unlock()
	return nil
}

// regionPending says whether a candidate of the cutover other than done
// is not down yet. It reads the candidates from the informers' caches when
// the platform is started (one List otherwise) and confirms a candidate
// the cache shows pending with one GET, stopping at the first that really
// is: the engine injects targets one by one, so a region of n targets
// costs O(n) requests, not a GET of every target on every inject.
func (p *Platform) regionPending(ctx context.Context, f platform.Fault, done platform.Target, scope cutoverScope) (bool, error) {
	m := mark{RunID: f.RunID, Fault: f.ID}
	cands, err := p.cutoverCandidates(ctx, f, scope, true)
	if err != nil {
		return false, err
	}
	st := p.state(f.ID)
	for _, c := range cands {
		if c.target.Kind == done.Kind && c.target.Name == done.Name {
			continue // just taken down by the caller
		}
		p.mu.Lock()
		down := st.down[c.target.Kind+"/"+c.target.Name]
		p.mu.Unlock()
		if down || ownershipOf(c.annotations, m) == ours {
			continue // taken down by this process, or seen marked
		}
		ann, err := p.liveAnnotations(ctx, c.target)
		switch {
		case apierrors.IsNotFound(err):
			continue // gone: nothing left to take down
		case err != nil:
			return false, err
		case ownershipOf(ann, m) != ours:
			return true, nil
		}
	}
	return false, nil
}

// liveAnnotations reads a node's or workload's annotations from the API
// server.
func (p *Platform) liveAnnotations(ctx context.Context, t platform.Target) (map[string]string, error) {
	switch t.Kind {
	case KindNode:
		n, err := p.cs.CoreV1().Nodes().Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("getting node %s: %w", t.Name, err)
		}
		return n.Annotations, nil
	case KindWorkload:
		ref, err := parseWorkload(t.Name)
		if err != nil {
			return nil, err
		}
		w, err := p.getWorkload(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("getting %s: %w", t.Name, err)
		}
		return w.meta.Annotations, nil
	}
	return nil, fmt.Errorf("target %s/%s is not a node or workload", t.Kind, t.Name)
}

// regionObject says whether a marked object is part of a region a cutover
// takes down (not, say, the Service its switch rewrote).
func regionObject(kind string) bool { return kind == KindNode || kind == KindWorkload }

// maybeFailBack switches traffic back to the cutover's region once no
// node or workload carries this fault's marks any more. force runs it
// even when this process did not switch (crash recovery).
func (p *Platform) maybeFailBack(ctx context.Context, f platform.Fault, force bool) error {
	rc := f.Spec.RegionCutover
	if rc.Traffic != v1alpha1.TrafficManual || rc.Switch == nil {
		return nil
	}
	st, switched := p.stateAnd(f.ID, func(s *faultState) bool { return s.switched })
	if !switched && !force {
		return nil
	}
	left, err := p.Marked(ctx, f.RunID, f.ID)
	if err != nil {
		return err
	}
	for _, mo := range left {
		if regionObject(mo.Target.Kind) {
			return nil // the region is not back yet
		}
	}
	if err := p.switchTraffic(ctx, f, phaseRevert, rc.To, rc.From); err != nil {
		return err
	}
	p.mu.Lock()
	st.switched = false
	p.mu.Unlock()
	return nil
}

// Phases of a traffic switch.
const (
	phaseInject = "inject"
	phaseRevert = "revert"
)

// switchTraffic moves traffic from one region to another with the plan's
// switch: a Service selector or HTTPRoute weights (switch.go), or the
// switch action. The action learns the direction from its environment:
// FIREDRILL_PHASE (inject or revert), FIREDRILL_TRAFFIC_FROM and
// FIREDRILL_TRAFFIC_TO, plus the run and step. A revert of a Service or
// HTTPRoute switch restores what its annotations recorded, so it is a
// no-op when this fault did not switch.
func (p *Platform) switchTraffic(ctx context.Context, f platform.Fault, phase, from, to string) error {
	rc := f.Spec.RegionCutover
	sw := rc.Switch
	m := mark{RunID: f.RunID, Fault: f.ID}
	start := p.opts.Clock.Now()
	var by string
	var changed bool
	var took time.Duration
	var err error
	switch {
	case sw.Service != nil:
		s := p.serviceSwitch(sw.Service)
		by = fmt.Sprintf("Service %s/%s selector %s", s.Namespace, s.Name, s.SelectorKey)
		if phase == phaseInject {
			changed, err = p.switchService(ctx, s, m, to)
		} else {
			changed, err = p.restoreService(ctx, s.Namespace, s.Name, m)
		}
		took = p.opts.Clock.Since(start)
	case sw.HTTPRoute != nil:
		h := p.routeSwitch(sw.HTTPRoute)
		by = fmt.Sprintf("HTTPRoute %s/%s weights", h.Namespace, h.Name)
		if phase == phaseInject {
			changed, err = p.switchRoute(ctx, h, m, from, to)
		} else {
			changed, err = p.restoreRoute(ctx, h.Namespace, h.Name, m)
		}
		took = p.opts.Clock.Since(start)
	default:
		by = "the switch action"
		var res action.Result
		res, err = p.opts.Actions.Run(ctx, &sw.Action, map[string]string{
			"FIREDRILL_RUN_ID": f.RunID, "FIREDRILL_STEP": f.ID, "FIREDRILL_PHASE": phase,
			"FIREDRILL_TRAFFIC_FROM": from, "FIREDRILL_TRAFFIC_TO": to,
			"FIREDRILL_CUTOVER_FROM": rc.From, "FIREDRILL_CUTOVER_TO": rc.To,
		})
		changed, took = true, res.Duration()
	}
	took = took.Round(time.Millisecond)
	verb := "switched"
	if phase == phaseRevert {
		verb = "failed back"
	}
	if err != nil {
		p.note(f.ID, "traffic switch %s→%s by %s FAILED after %s: %s", from, to, by, took, err.Error())
		return fmt.Errorf("switching traffic from %s to %s: %w", from, to, err)
	}
	if changed {
		p.note(f.ID, "traffic %s %s→%s by %s in %s", verb, from, to, by, took)
	}
	return nil
}

// cutoverTargets checks a cutover can run and lists its targets: the
// nodes (method drain) or workloads (scaleToZero) of the lost region.
func (p *Platform) cutoverTargets(ctx context.Context, f platform.Fault) ([]platform.Target, error) {
	rc := f.Spec.RegionCutover
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
	return p.cutoverTargetsIn(ctx, f, cutoverScope{})
}

// cutoverTargetsIn checks the cutover's settings and switch and lists its
// targets in scope; the caller checks that the surviving region can take
// over.
func (p *Platform) cutoverTargetsIn(ctx context.Context, f platform.Fault, scope cutoverScope) ([]platform.Target, error) {
	rc := f.Spec.RegionCutover
	if rc.From == rc.To {
		return nil, fmt.Errorf("region cutover from %s to itself", rc.From)
	}
	if rc.Traffic == v1alpha1.TrafficManual {
		if rc.Switch == nil {
			return nil, fmt.Errorf("region cutover with manual traffic needs a switch action")
		}
		// A switch that cannot work fails the step before the region
		// is taken down.
		if err := p.checkSwitch(ctx, f); err != nil {
			return nil, err
		}
	}
	cands, err := p.cutoverCandidates(ctx, f, scope, false)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Target, 0, len(cands))
	for _, c := range cands {
		out = append(out, c.target)
	}
	return out, nil
}

// candidate is a target of a cutover with the annotations it was listed
// with.
type candidate struct {
	target      platform.Target
	annotations map[string]string
}

// cutoverCandidates lists the nodes (method drain) or workloads
// (scaleToZero) of the cutover's lost region, from the informers' caches
// when cached is set and the platform is started, else with one List per
// kind and namespace.
func (p *Platform) cutoverCandidates(ctx context.Context, f platform.Fault, scope cutoverScope, cached bool) ([]candidate, error) {
	rc := f.Spec.RegionCutover
	m := mark{RunID: f.RunID, Fault: f.ID}
	var w *watcher
	if cached {
		p.mu.Lock()
		w = p.watch
		p.mu.Unlock()
	}
	if rc.Method == v1alpha1.CutoverScaleToZero {
		return p.workloadCandidates(ctx, w, rc.From, scope, m)
	}
	var nodes []*corev1.Node
	if w != nil {
		var err error
		if nodes, err = w.nodes.Core().V1().Nodes().Lister().List(labels.Everything()); err != nil {
			return nil, fmt.Errorf("listing cached nodes: %w", err)
		}
	} else {
		list, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		for i := range list.Items {
			nodes = append(nodes, &list.Items[i])
		}
	}
	filter := nodeFilter{}
	var out []candidate
	for _, n := range nodes {
		if scope.nodeRegion(n) != rc.From || !filter.matches(n, m) {
			continue
		}
		out = append(out, candidate{
			target:      platform.Target{Kind: KindNode, Name: n.Name, Region: rc.From, Labels: n.Labels},
			annotations: n.Annotations,
		})
	}
	return out, nil
}

// workloadCandidates lists the workloads of region in scope, from w's
// caches when w is set.
func (p *Platform) workloadCandidates(ctx context.Context, w *watcher, region string, scope cutoverScope, m mark) ([]candidate, error) {
	var out []candidate
	add := func(kind v1alpha1.WorkloadKind, meta *metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec, replicas *int32) {
		if scope.workloadRegion(meta.Labels, tmpl) != region {
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
		out = append(out, candidate{
			target:      platform.Target{Kind: KindWorkload, Name: workloadName(ref), Region: region, Labels: meta.Labels},
			annotations: meta.Annotations,
		})
	}
	for _, ns := range p.allowed {
		if f, ok := w.factory(ns); ok {
			deps, err := f.Apps().V1().Deployments().Lister().Deployments(ns).List(labels.Everything())
			if err != nil {
				return nil, fmt.Errorf("listing cached deployments in %s: %w", ns, err)
			}
			for _, d := range deps {
				add(v1alpha1.WorkloadDeployment, &d.ObjectMeta, &d.Spec.Template, d.Spec.Replicas)
			}
			sts, err := f.Apps().V1().StatefulSets().Lister().StatefulSets(ns).List(labels.Everything())
			if err != nil {
				return nil, fmt.Errorf("listing cached statefulsets in %s: %w", ns, err)
			}
			for _, s := range sts {
				add(v1alpha1.WorkloadStatefulSet, &s.ObjectMeta, &s.Spec.Template, s.Spec.Replicas)
			}
			continue
		}
		deps, err := p.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing deployments in %s: %w", ns, err)
		}
		for i := range deps.Items {
			d := &deps.Items[i]
			add(v1alpha1.WorkloadDeployment, &d.ObjectMeta, &d.Spec.Template, d.Spec.Replicas)
		}
		sts, err := p.cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing statefulsets in %s: %w", ns, err)
		}
		for i := range sts.Items {
			s := &sts.Items[i]
			add(v1alpha1.WorkloadStatefulSet, &s.ObjectMeta, &s.Spec.Template, s.Spec.Replicas)
		}
	}
	return out, nil
}

// factory is the informer factory of a watched namespace; ok is false
// when w is nil or does not watch ns.
func (w *watcher) factory(ns string) (informers.SharedInformerFactory, bool) {
	if w == nil {
		return nil, false
	}
	f, ok := w.perNS[ns]
	return f, ok
}
