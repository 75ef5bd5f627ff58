package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/drain"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// drainSettings are what one drain honours.
type drainSettings struct {
	timeout *metav1.Duration
	grace   *metav1.Duration
	policy  v1alpha1.CapacityPolicy
	// movable says which evicted pods are expected to reschedule; nil
	// means all.
	movable func(*corev1.Pod) bool
	// deletePods deletes the node's pods instead of evicting them, so
	// disruption budgets do not hold the drain back (a lost region).
	deletePods bool
}

// drainNode checks capacity, records the node's state in annotations,
// cordons it and evicts its pods through the Eviction API (honouring
// disruption budgets, skipping DaemonSet pods). A node this fault already
// cordoned is drained again, which evicts what is left.
func (p *Platform) drainNode(ctx context.Context, f platform.Fault, name string, ds drainSettings) error {
	m := mark{RunID: f.RunID, Fault: f.ID}
	again := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := p.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting node %s: %w", name, err)
		}
		switch ownershipOf(node.Annotations, m) {
		case ours:
			again = true
			return nil
		case foreign:
			o, _ := owner(node.Annotations)
			return fmt.Errorf("node %s is held by run %s (step %s); run drill cleanup if that run is dead", name, o.RunID, o.Fault)
		}
		pf, err := p.preflight(ctx, []string{name}, ds.movable)
		if err != nil {
			return err
		}
		if len(pf.Outside) > 0 {
			return fmt.Errorf("refusing to drain node %s: it runs pods outside safety.namespaces %v: %s",
				name, p.allowed, strings.Join(pf.Outside, ", "))
		}
		if len(pf.Unmanaged) > 0 {
			return fmt.Errorf("refusing to drain node %s: %s", name, unmanagedRefusal(pf.Unmanaged))
		}
		if !pf.Sufficient() {
			if ds.policy != v1alpha1.CapacityWarn {
				return fmt.Errorf("refusing to drain: insufficient capacity (onInsufficientCapacity: refuse): %s", pf)
			}
			p.note(f.ID, "drained despite insufficient capacity (onInsufficientCapacity: warn): %s", pf)
		}
		if len(pf.Pinned) > 0 {
			p.note(f.ID, "%d pods on node %s are pinned to its region and stay Pending until revert", len(pf.Pinned), name)
		}
		return p.patchCordon(ctx, node, m)
	})
	if err != nil {
		return err
	}
	return p.evict(ctx, f, name, ds, !again)
}

// cordonNode records a node's state in annotations and cordons it, with
// no preflight (the caller ran one). known, when set, is the node as the
// caller listed it, so the first attempt needs no GET; a conflict reads
// it again. A node this fault already holds is left as it is.
func (p *Platform) cordonNode(ctx context.Context, name string, known *corev1.Node, m mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := known
		known = nil
		if node == nil {
			var err error
			if node, err = p.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("getting node %s: %w", name, err)
			}
		}
		switch ownershipOf(node.Annotations, m) {
		case ours:
			return nil
		case foreign:
			o, _ := owner(node.Annotations)
			return fmt.Errorf("node %s is held by run %s (step %s); run drill cleanup if that run is dead", name, o.RunID, o.Fault)
		}
		return p.patchCordon(ctx, node, m)
	})
}

// patchCordon cordons a node as read at its resourceVersion and records
// its prior state and the fault's marks in the same patch; a conflict is
// the caller's to retry.
func (p *Platform) patchCordon(ctx context.Context, node *corev1.Node, m mark) error {
	patch, err := json.Marshal(cordonPatch(m, node.Spec.Unschedulable, node.ResourceVersion))
	if err != nil {
		return fmt.Errorf("encoding cordon patch: %w", err)
	}
	if _, err := p.cs.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	return nil
}

// unmanagedRefusal explains why pods no controller owns stop a drain.
func unmanagedRefusal(pods []string) string {
	return fmt.Sprintf("pods no controller owns would be lost for good (kubectl drain refuses them without --force): %s",
		strings.Join(pods, ", "))
}

// fieldManager names firedrill's changes in managedFields.
const fieldManager = "firedrill"

// evict runs kubectl's drain on a cordoned node; first says whether this
// call cordoned it (a repeated inject only finishes the drain).
func (p *Platform) evict(ctx context.Context, f platform.Fault, name string, ds drainSettings, first bool) error {
	logger := log.FromContext(ctx).With("step", f.ID, "node", name)
	timeout := DefaultDrainTimeout
	if ds.timeout != nil {
		timeout = ds.timeout.Duration
	}
	grace := -1 // the pod's own terminationGracePeriodSeconds
	if ds.grace != nil {
		grace = int(ds.grace.Seconds())
	}
	out := logWriter(func(line string) { logger.Debug("drain", "output", line) })
	defer func() { _ = out.Close() }()
	h := &drain.Helper{
		Ctx: ctx, Client: evictionRecorder{Interface: p.cs, onEvicted: func() { p.tookEffect(f.ID) }},
		DisableEviction:      ds.deletePods,
		GracePeriodSeconds:   grace,
		IgnoreAllDaemonSets:  true,
		DeleteEmptyDirData:   true,
		Timeout:              timeout,
		EvictErrorRetryDelay: min(5*time.Second, p.opts.PollInterval*2),
		Out:                  out, ErrOut: out,
	}
	if ds.deletePods {
		// Deletions are not evictions: the fault takes effect as the
		// first delete is sent (kubectl's helper offers no later hook
		// short of the pod being gone).
		h.OnPodDeletionOrEvictionStarted = func(*corev1.Pod, bool) { p.tookEffect(f.ID) }
	}
	start := p.opts.Clock.Now()
	if err := drain.RunNodeDrain(h, name); err != nil {
		return fmt.Errorf("draining node %s: %w", name, err)
	}
	if first {
		how := "through the Eviction API"
		if ds.deletePods {
			how = "by deleting its pods (disruption budgets do not hold a lost region)"
		}
		p.note(f.ID, "node %s drained %s in %s", name, how, p.opts.Clock.Since(start).Round(time.Millisecond))
	}
	return nil
}

// uncordon restores a node this fault cordoned and removes the marks. A
// node that is gone or not marked by this fault is left alone. known, when
// set, is the node as the caller listed it, so the first attempt needs no
// GET; a conflict reads it again.
func (p *Platform) uncordon(ctx context.Context, name string, known *corev1.Node, m mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := known
		known = nil
		if node == nil {
			var err error
			node, err = p.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("getting node %s: %w", name, err)
			}
		}
		if ownershipOf(node.Annotations, m) != ours {
			return nil
		}
		patch, err := json.Marshal(uncordonPatch(node.Annotations, node.ResourceVersion))
		if err != nil {
			return fmt.Errorf("encoding uncordon patch: %w", err)
		}
		_, err = p.cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uncordoning node %s: %w", name, err)
		}
		return nil
	})
}

// preflight gathers the cluster state and runs CheckDrain for nodes.
func (p *Platform) preflight(ctx context.Context, nodes []string, movable func(*corev1.Pod) bool) (Preflight, error) {
	in, err := p.clusterState(ctx, func(n *corev1.Node) bool { return slices.Contains(nodes, n.Name) }, movable)
	if err != nil {
		return Preflight{}, err
	}
	return CheckDrain(in), nil
}

// clusterState reads what a capacity check looks at, with one List each of
// nodes, pods and disruption budgets; draining picks the nodes about to go.
func (p *Platform) clusterState(ctx context.Context, draining func(*corev1.Node) bool, movable func(*corev1.Pod) bool) (PreflightInput, error) {
	nodeList, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return PreflightInput{}, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := p.cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return PreflightInput{}, fmt.Errorf("listing pods: %w", err)
	}
	pdbs, err := p.cs.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return PreflightInput{}, fmt.Errorf("listing pod disruption budgets: %w", err)
	}
	byNode := map[string][]corev1.Pod{}
	for _, pod := range pods.Items {
		if pod.Spec.NodeName != "" {
			byNode[pod.Spec.NodeName] = append(byNode[pod.Spec.NodeName], pod)
		}
	}
	in := PreflightInput{PDBs: pdbs.Items, Namespaces: p.allowed, Movable: movable}
	for i := range nodeList.Items {
		n := &nodeList.Items[i]
		st := NodeState{Node: n, Pods: byNode[n.Name]}
		if draining(n) {
			in.Draining = append(in.Draining, st)
		} else {
			in.Others = append(in.Others, st)
		}
	}
	return in, nil
}

// logWriter turns written lines into calls of fn.
func logWriter(fn func(string)) io.WriteCloser {
	r, w := io.Pipe()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fn(sc.Text())
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return w
}
