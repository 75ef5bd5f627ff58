package kube

import (
	"context"
	"fmt"
	"strings"

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

func (p *Platform) checkOutageMode(o *v1alpha1.ModelStoreOutage) error {
	if o.Mode == "" || o.Mode == v1alpha1.OutageUnavailable {
		return nil
	}
	return fmt.Errorf("model store outage mode %s: %w: the kubernetes platform scales the store to zero (mode unavailable); "+
		"use a chaosMesh NetworkChaos (delay or partition) for a slow or hung store", o.Mode, platform.ErrUnsupported)
}
