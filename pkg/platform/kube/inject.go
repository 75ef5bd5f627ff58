package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
	"github.com/firedrill/firedrill/pkg/platform/kube/watch"
)

// Inject implements platform.Platform: it applies f to one target. It is
// idempotent: a repeated call finds its own marks and completes what the
// first began. The run's first Inject starts its heartbeat on the cluster
// (a Lease renewed until Stop); once the heartbeat is lost, Inject
// refuses.
func (p *Platform) Inject(ctx context.Context, f platform.Fault, t evidence.Target) error {
	f = p.localize(f)
	// The run is alive, for anyone who finds its marks, before it writes
	// the first.
	if err := p.hb.Alive(ctx, f.RunID); err != nil {
		return err
	}
	st := p.begin(ctx, f)
	log.FromContext(ctx).Info("injecting", "step", f.ID, "target", t.String())
	rep := p.log.Reporter(f.ID, t)
	d := p.deps(p.scope)
	s := f.Spec
	switch {
	case s.PodKill != nil && t.Kind == evidence.KindPod:
		return p.killPod(ctx, f.ID, st, t.Name, s.PodKill.GracePeriod, rep)
	case s.NodeDrain != nil && t.Kind == evidence.KindNode:
		nd := s.NodeDrain
		timeout := DefaultDrainTimeout
		if nd.Timeout != nil {
			timeout = nd.Timeout.Duration
		}
		return d.drainer.Drain(ctx, t.Name, p.markOf(f), nodes.Settings{Timeout: timeout, Grace: nd.GracePeriod, Policy: nd.OnInsufficientCapacity}, rep)
	case s.GPUFailure != nil && t.Kind == evidence.KindNode:
		return d.gpu.Fail(ctx, t.Name, p.markOf(f), gpu.SettingsOf(s.GPUFailure), rep)
	case s.RegionCutover != nil && t.Kind == evidence.KindRegion:
		return p.cutover(ctx, f, st, t, rep)
	case s.ModelStoreOutage != nil && t.Kind == evidence.KindStore:
		ref, err := objects.ParseWorkload(t.Name)
		if err != nil {
			return err
		}
		if err := d.outage.Inject(ctx, s.ModelStoreOutage, ref, p.markOf(f), rep); err != nil {
			return err
		}
		return p.restartInference(ctx, f, st, rep)
	case s.ChaosMesh != nil && t.Kind == evidence.KindChaos:
		obj, err := chaos.Build(s.ChaosMesh, objects.ObjectName(f.RunID, f.ID), p.scope.namespace, p.markOf(f))
		if err != nil {
			return err
		}
		if err := d.chaos.Apply(ctx, obj, t.Name, p.markOf(f), rep); err != nil {
			return err
		}
		rep.TookEffect()
		return nil
	}
	return fmt.Errorf("target %s for step %s: %w", t, f.ID, platform.ErrUnsupported)
}

// killPod deletes one pod with grace (0 kills at once), once per pod and
// fault: a pod this fault killed whose name now belongs to a replacement
// (a StatefulSet pod) is left alone.
func (p *Platform) killPod(ctx context.Context, id string, st *faultlog.Fault, name string, grace *metav1.Duration, rep faultlog.Reporter) error {
	ns, _, err := objects.SplitKey(name)
	if err != nil {
		return err
	}
	if err := objects.NamespaceAllowed(p.scope.allowed, ns); err != nil {
		return err
	}
	before, done := st.Killed(name)
	var prior *pods.Killed
	if done {
		prior = &before
	}
	k, err := pods.Kill(ctx, p.c, name, grace, prior)
	if err != nil {
		return err
	}
	if k.Deleted {
		rep.TookEffect()
	}
	if k.UID != "" {
		st.SetKilled(name, k)
	}
	return nil
}

// restartInference deletes restartReplicas inference pods, once per
// fault, so that their replacements must start without the store.
func (p *Platform) restartInference(ctx context.Context, f platform.Fault, st *faultlog.Fault, rep faultlog.Reporter) error {
	o := f.Spec.ModelStoreOutage
	if o.RestartReplicas == 0 {
		return nil
	}
	if st.Restarted() {
		return nil
	}
	running, err := p.deps(p.scope).outage.InferencePods(ctx, o.Region)
	if err != nil {
		return fmt.Errorf("finding inference pods to restart: %w", err)
	}
	n := min(int(o.RestartReplicas), len(running))
	var names []string
	for i := range n {
		key := objects.PodKey(&running[i])
		if err := p.killPod(ctx, f.ID, st, key, &metav1.Duration{}, rep); err != nil {
			return fmt.Errorf("restarting inference pods during the outage: %w", err)
		}
		names = append(names, key)
	}
	st.SetRestarted()
	if n < int(o.RestartReplicas) {
		rep.Note(fmt.Sprintf("restartReplicas asked for %d restarts but only %d inference pods were running", o.RestartReplicas, n))
	}
	if n > 0 {
		rep.Note("restarted " + strings.Join(names, ", ") + " during the store outage")
	}
	return nil
}

// cutover takes the whole lost region down (every node or workload of it,
// at once) and then, with traffic: manual, switches traffic once.
func (p *Platform) cutover(ctx context.Context, f platform.Fault, st *faultlog.Fault, t evidence.Target, rep faultlog.Reporter) error {
	rc := f.Spec.RegionCutover
	if t.Name != rc.From {
		return fmt.Errorf("target %s is not the region %s that step %s cuts over", t, rc.From, f.ID)
	}
	d := p.deps(p.scope)
	st.SetLost(rc.From)
	if err := d.cutover.TakeDown(ctx, p.region(f), st.Region(), rep); err != nil {
		return err
	}
	if rc.Traffic != v1alpha1.TrafficManual {
		return nil
	}
	if st.Switched() {
		return nil
	}
	res, err := d.switcher.Switch(ctx, rc, traffic.Inject, p.markOf(f))
	if err != nil {
		rep.Note(res.Failure(err))
		return err
	}
	if res.Changed {
		p.log.TrafficSwitched(f.ID, rep.Target(), res.Message())
	}
	st.SetSwitched(true)
	return nil
}

// Revert implements platform.Platform: it undoes f on one target. It is
// idempotent, and it only restores objects that carry this fault's marks.
// A region comes back at once, every node or workload the fault holds,
// and then traffic fails back.
func (p *Platform) Revert(ctx context.Context, f platform.Fault, t evidence.Target) error {
	f = p.localize(f)
	p.beginRevert(ctx, f)
	log.FromContext(ctx).Info("reverting", "step", f.ID, "target", t.String())
	if err := p.revertOne(ctx, f, t); err != nil {
		return err
	}
	if f.Spec.RegionCutover != nil && t.Kind == evidence.KindRegion {
		return p.failBack(ctx, f, t, false)
	}
	return nil
}

// failBack switches a manual cutover's traffic back to its region once the
// region is restored. A Service or HTTPRoute is restored from its marks,
// which is a no-op when this fault did not switch it, so it is always
// tried (a resumed run's process did not switch it itself). A command or
// webhook runs with FIREDRILL_PHASE=revert when this process switched, or
// when force says so (crash recovery: whether the dead run switched is
// unknown, so the script must be idempotent).
func (p *Platform) failBack(ctx context.Context, f platform.Fault, t evidence.Target, force bool) error {
	rc := f.Spec.RegionCutover
	if rc.Traffic != v1alpha1.TrafficManual || rc.Switch == nil {
		return nil
	}
	st, _ := p.log.State(f.ID)
	switched := st.Switched()
	fromMarks := rc.Switch.Service != nil || rc.Switch.HTTPRoute != nil
	if !switched && !force && !fromMarks {
		return nil
	}
	// Traffic goes back once the region serves again, not as soon as it
	// is uncordoned or scaled up: new connections to a region whose pods
	// are not ready would fail.
	if !force {
		if err := p.awaitRegionReady(ctx, rc.From); err != nil {
			p.log.Note(f.ID, &t, "failing traffic back although region "+rc.From+" is not ready: "+err.Error())
		}
	}
	res, err := p.deps(p.scope).switcher.Switch(ctx, rc, traffic.Revert, p.markOf(f))
	if err != nil {
		p.log.Note(f.ID, &t, res.Failure(err))
		return err
	}
	if res.Changed {
		p.log.TrafficSwitched(f.ID, &t, res.Message())
	}
	st.SetSwitched(false)
	return nil
}

// regionReadyTimeout bounds the wait for a restored region before traffic
// fails back anyway.
const regionReadyTimeout = 2 * time.Minute

// awaitRegionReady waits until every watched workload of region has its
// desired ready replicas, or says what is still short.
func (p *Platform) awaitRegionReady(ctx context.Context, region string) error {
	ctx, cancel := context.WithTimeout(ctx, regionReadyTimeout)
	defer cancel()
	sc := p.scope.cluster
	others := func(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) bool {
		return sc.WorkloadRegion(objLabels, tmpl) != region // only region's workloads count
	}
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	for {
		// The informers' cache when started (a poll costs no request),
		// else a live read.
		var points []evidence.CapacityPoint
		var err error
		if w != nil {
			points, _, err = w.Capacity(ctx, p.opts.Clock.Now(), "", others)
		} else {
			points, _, err = watch.CapacityOf(ctx, p.c, p.scope.workloads, "", p.opts.Clock.Now(), others)
		}
		short := ""
		for _, pt := range points {
			if pt.Ready < pt.Desired {
				short = fmt.Sprintf("%s has %d of %d replicas ready", pt.Workload, pt.Ready, pt.Desired)
			}
		}
		if err == nil && short == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			if short == "" && err != nil {
				short = err.Error()
			}
			return fmt.Errorf("after %s %s", regionReadyTimeout, short)
		case <-p.opts.Clock.After(200 * time.Millisecond):
		}
	}
}
