package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/platform"
)

// killPod deletes one pod with the fault's grace period (0 kills at once).
// A pod that is gone, or whose name now belongs to a replacement (a
// StatefulSet pod), counts as killed.
func (p *Platform) killPod(ctx context.Context, f platform.Fault, name string, grace *metav1.Duration) error {
	ns, n, err := splitKey(name)
	if err != nil {
		return err
	}
	if err := p.namespaceAllowed(ns); err != nil {
		return err
	}
	pod, err := p.cs.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting pod %s: %w", name, err)
	}
	st := p.state(f.ID)
	p.mu.Lock()
	uid, done := st.killed[name]
	p.mu.Unlock()
	if done && (uid != pod.UID || pod.DeletionTimestamp != nil) {
		return nil
	}
	var seconds int64
	if grace != nil {
		seconds = int64(grace.Seconds())
	}
	uidPre := pod.UID
	err = p.cs.CoreV1().Pods(ns).Delete(ctx, n, metav1.DeleteOptions{
		GracePeriodSeconds: &seconds,
		Preconditions:      &metav1.Preconditions{UID: &uidPre},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s: %w", name, err)
	}
	if err == nil {
		p.tookEffect(f.ID)
	}
	p.mu.Lock()
	st.killed[name] = pod.UID
	p.mu.Unlock()
	return nil
}
