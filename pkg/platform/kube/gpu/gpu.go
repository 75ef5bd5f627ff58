package gpu

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
)

// Labels of a node target of a GPU failure: what a failure of the node
// would do, read live, so that a dry run (which prints them) shows it.
const (
	// LabelGPUs is "<failed> of <allocatable>".
	LabelGPUs = "firedrill.dev/gpus"
	// LabelTaint is the taint the node would get ("key:NoExecute").
	LabelTaint = "firedrill.dev/taint"
	// LabelLostPods are the GPU pods that would lose their GPUs,
	// comma-separated namespace/name.
	LabelLostPods = "firedrill.dev/lost-pods"
)

// Observer hears what a GPU failure does, as it happens.
type Observer interface {
	// TookEffect says the node lost its GPUs now.
	TookEffect()
	// Note records an observation for the report.
	Note(msg string)
}

// Failer fails and restores the GPUs of nodes.
type Failer struct {
	// Client reads live, patches nodes and their status, deletes pods.
	Client client.Client
	// Allowed are the namespaces faults may touch (safety.namespaces).
	Allowed []string
}

// Settings are what one failure honours.
type Settings struct {
	// GPUs is how many GPUs fail; 0 means every one.
	GPUs int64
	// TaintKey is the NoExecute taint a node whose every GPU fails gets;
	// empty means none.
	TaintKey string
	// Grace is given to each pod that loses its GPU; nil uses the pod's
	// own.
	Grace *metav1.Duration
	// Policy says what a capacity shortfall does: refuse (the default)
	// or warn.
	Policy v1alpha1.CapacityPolicy
}

// SettingsOf are the settings of a gpuFailure fault.
func SettingsOf(g *v1alpha1.GPUFailure) Settings {
	s := Settings{TaintKey: g.TaintKey, Grace: g.GracePeriod, Policy: g.OnInsufficientCapacity}
	if g.GPUs != nil {
		s.GPUs = int64(*g.GPUs)
	}
	return s
}

// assess reads the cluster and works out the failure of node name.
func (f Failer) assess(ctx context.Context, name string, s Settings) (Failure, error) {
	in, err := nodes.ClusterState(ctx, f.Client, f.Allowed, func(n *corev1.Node) bool { return n.Name == name }, nil)
	if err != nil {
		return Failure{}, err
	}
	if len(in.Draining) == 0 {
		return Failure{}, fmt.Errorf("node %s not found", name)
	}
	return Assess(in, s.GPUs, s.TaintKey)
}

// Fail fails the GPUs of node name for fault m. The first call checks
// the other nodes can take the pods it removes (a shortfall refuses,
// touching nothing, unless s.Policy is warn) and writes the failure's
// record into the node's marks; every call then brings the node to what
// the record says: its allocatable dropped (the node's status), the GPU
// pods that no longer fit deleted, and the taint on a node whose every
// GPU failed. A node another fault holds is refused.
func (f Failer) Fail(ctx context.Context, name string, m marks.Mark, s Settings, obs Observer) error {
	var node corev1.Node
	first := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.Client.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
			return fmt.Errorf("getting node %s: %w", name, err)
		}
		switch marks.OwnershipOf(node.Annotations, m) {
		case marks.Ours:
			return nil
		case marks.Foreign:
			return marks.HeldError("node "+name, node.Annotations)
		}
		fl, err := f.assess(ctx, name, s)
		if err != nil {
			return err
		}
		if why := fl.Refusal(); why != "" {
			return fmt.Errorf("refusing to fail the GPUs of node %s: %s", name, why)
		}
		if !fl.Sufficient() {
			if s.Policy != v1alpha1.CapacityWarn {
				return fmt.Errorf("refusing to fail GPUs: insufficient capacity (onInsufficientCapacity: refuse): %s", fl)
			}
			obs.Note("failed GPUs despite insufficient capacity (onInsufficientCapacity: warn): " + fl.String())
		}
		if len(fl.DaemonPods) > 0 {
			obs.Note(fmt.Sprintf("the %s taint on node %s also evicts DaemonSet pods that do not tolerate it, which stay off the node until revert: %s",
				fl.Taint, name, strings.Join(fl.DaemonPods, ", ")))
		}
		patch, err := marks.GPUFailurePatch(m, marks.GPURecord{Allocatable: fl.Allocatable, Failed: fl.Failed, Taint: fl.Taint}, node.ResourceVersion)
		if err != nil {
			return err
		}
		if err := patchNode(ctx, f.Client, &node, patch, false); err != nil {
			return fmt.Errorf("marking node %s: %w", name, err)
		}
		first = true
		return nil
	})
	if err != nil {
		return err
	}
	rec, _, err := marks.ReadGPURecord(node.Annotations)
	if err != nil {
		return err
	}
	if err := f.setAllocatable(ctx, &node, m, rec.Allocatable, rec.Remaining()); err != nil {
		return err
	}
	obs.TookEffect()
	deleted, err := f.deleteLost(ctx, &node, rec.Remaining(), s.Grace)
	if err != nil {
		return err
	}
	if rec.Taint != "" {
		if err := f.taint(ctx, &node, m, rec.Taint); err != nil {
			return err
		}
	}
	if first {
		msg := fmt.Sprintf("node %s lost %d of %d GPUs (%s allocatable %d → %d)", name, rec.Failed, rec.Allocatable, objects.ResourceGPU, rec.Allocatable, rec.Remaining())
		if rec.Taint != "" {
			msg += fmt.Sprintf(" and was tainted %s:NoExecute", rec.Taint)
		}
		if len(deleted) > 0 {
			msg += fmt.Sprintf("; its GPU pods that no longer fit were deleted: %s", strings.Join(deleted, ", "))
		} else {
			msg += "; none of its GPU pods lost its GPU"
		}
		obs.Note(msg)
	}
	return nil
}

// setAllocatable sets the node's nvidia.com/gpu allocatable to want
// unless it already is; from says what the record expects it to be
// before. The node must carry m's marks.
func (f Failer) setAllocatable(ctx context.Context, node *corev1.Node, m marks.Mark, from, want int64) error {
	name := node.Name
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if marks.OwnershipOf(node.Annotations, m) != marks.Ours {
			return fmt.Errorf("node %s lost the marks of run %s step %s while its GPUs failed", name, m.RunID, m.Fault)
		}
		if Allocatable(node) == want {
			return nil
		}
		err := patchNode(ctx, f.Client, node, marks.AllocatablePatch(want, node.ResourceVersion), true)
		if apierrors.IsConflict(err) {
			if gerr := f.Client.Get(ctx, client.ObjectKey{Name: name}, node); gerr != nil {
				return fmt.Errorf("getting node %s: %w", name, gerr)
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("setting the %s allocatable of node %s from %d to %d: %w", objects.ResourceGPU, name, from, want, err)
		}
		return nil
	})
}

// deleteLost deletes the GPU pods of node that do not fit into remaining
// GPUs, with grace, and returns their names. A pod outside the allowed
// namespaces is never deleted (the first call refused such a node).
func (f Failer) deleteLost(ctx context.Context, node *corev1.Node, remaining int64, grace *metav1.Duration) ([]string, error) {
	var list corev1.PodList
	if err := f.Client.List(ctx, &list, client.MatchingFields{"spec.nodeName": node.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of node %s: %w", node.Name, err)
	}
	onNode := slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.Spec.NodeName != node.Name })
	var opts []client.DeleteOption
	if grace != nil {
		opts = append(opts, client.GracePeriodSeconds(int64(grace.Seconds())))
	}
	var deleted []string
	for _, p := range Lost(onNode, remaining) {
		key := objects.PodKey(p)
		if err := objects.NamespaceAllowed(f.Allowed, p.Namespace); err != nil {
			log.FromContext(ctx).Warn("a pod that lost its GPU is outside safety.namespaces; left alone", "pod", key, "node", node.Name)
			continue
		}
		uid := p.UID
		err := f.Client.Delete(ctx, p, append(opts, client.Preconditions{UID: &uid})...)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return deleted, fmt.Errorf("deleting pod %s, which lost its GPU: %w", key, err)
		}
		deleted = append(deleted, key)
	}
	return deleted, nil
}

// taint adds the NoExecute taint key to node unless it has it.
func (f Failer) taint(ctx context.Context, node *corev1.Node, m marks.Mark, key string) error {
	t := Taint(key)
	name := node.Name
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if marks.OwnershipOf(node.Annotations, m) != marks.Ours {
			return fmt.Errorf("node %s lost the marks of run %s step %s while its GPUs failed", name, m.RunID, m.Fault)
		}
		if slices.ContainsFunc(node.Spec.Taints, func(o corev1.Taint) bool { return o.MatchTaint(&t) }) {
			return nil
		}
		err := patchNode(ctx, f.Client, node, marks.TaintsPatch(append(slices.Clone(node.Spec.Taints), t), node.ResourceVersion), false)
		if apierrors.IsConflict(err) {
			if gerr := f.Client.Get(ctx, client.ObjectKey{Name: name}, node); gerr != nil {
				return fmt.Errorf("getting node %s: %w", name, gerr)
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("tainting node %s %s:NoExecute: %w", name, key, err)
		}
		return nil
	})
}

// Restore brings back the GPUs fault m failed on node name, from the
// record in its marks: the allocatable, when the node still reports what
// the failure set (otherwise someone else, a kubelet, has set it since,
// and it is left as it is), and the taint the failure added; then it
// removes the marks. ok says whether the node carried a GPU failure
// record of m: a node that is gone, not marked by m, or marked by a
// cordon is left alone.
func Restore(ctx context.Context, c client.Client, name string, m marks.Mark) (ok bool, err error) {
	var node corev1.Node
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ok = false
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("getting node %s: %w", name, err)
		}
		if marks.OwnershipOf(node.Annotations, m) != marks.Ours {
			return nil
		}
		rec, found, err := marks.ReadGPURecord(node.Annotations)
		if !found {
			return nil
		}
		ok = true
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		switch now := Allocatable(&node); now {
		case rec.Remaining():
			if err := patchNode(ctx, c, &node, marks.AllocatablePatch(rec.Allocatable, node.ResourceVersion), true); err != nil {
				return fmt.Errorf("restoring the %s allocatable of node %s to %d: %w", objects.ResourceGPU, name, rec.Allocatable, err)
			}
		case rec.Allocatable:
		default:
			log.FromContext(ctx).Info("the GPU allocatable of a node changed during its GPU failure; left as it is",
				"node", name, "allocatable", now, "before", rec.Allocatable, "failed", rec.Remaining())
		}
		taints := node.Spec.Taints
		if rec.Taint != "" {
			t := Taint(rec.Taint)
			taints = slices.DeleteFunc(slices.Clone(taints), func(o corev1.Taint) bool { return o.MatchTaint(&t) })
		}
		if err := patchNode(ctx, c, &node, marks.RestoreGPUPatch(taints, node.ResourceVersion), false); err != nil {
			return fmt.Errorf("removing the GPU failure of node %s: %w", name, err)
		}
		return nil
	})
	if apierrors.IsNotFound(err) {
		return ok, nil
	}
	return ok, err
}

// patchNode applies a merge patch to node (its status subresource when
// status) and updates node from the answer.
func patchNode(ctx context.Context, c client.Client, node *corev1.Node, patch map[string]any, status bool) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	p := client.RawPatch(types.MergePatchType, data)
	if status {
		return c.Status().Patch(ctx, node, p)
	}
	return c.Patch(ctx, node, p)
}

// Candidates lists the nodes filter selects whose GPUs fault m can fail
// (s.GPUs of them, or every one: nodes with at least that many
// allocatable GPUs), as node targets with their region and labels, and
// with what a failure would do (LabelGPUs, LabelTaint, LabelLostPods),
// read live. Nodes this very fault failed stay candidates, so that a
// resumed run resolves the same targets.
func (f Failer) Candidates(ctx context.Context, filter objects.NodeFilter, s Settings, m marks.Mark) ([]evidence.Target, error) {
	filter.GPUOnly = true
	in, err := nodes.ClusterState(ctx, f.Client, f.Allowed, func(*corev1.Node) bool { return false }, nil)
	if err != nil {
		return nil, err
	}
	var out []evidence.Target
	for i, st := range in.Others {
		n := st.Node
		lbls := map[string]string{}
		maps.Copy(lbls, n.Labels)
		ours := marks.OwnershipOf(n.Annotations, m) == marks.Ours
		if rec, found, err := marks.ReadGPURecord(n.Annotations); ours && found && err == nil {
			// Failed by this very fault: it has no GPU left to show.
			failed := filter
			failed.GPUOnly = false
			if failed.Matches(n, m) {
				lbls[LabelGPUs] = fmt.Sprintf("%d of %d", rec.Failed, rec.Allocatable)
				out = append(out, evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: filter.Scope.NodeRegion(n), Labels: lbls})
			}
			continue
		}
		if !filter.Matches(n, m) || Allocatable(n) < max(s.GPUs, 1) {
			continue
		}
		one := in
		one.Draining = []placement.NodeState{st}
		one.Others = slices.Delete(slices.Clone(in.Others), i, i+1)
		fl, err := Assess(one, s.GPUs, s.TaintKey)
		if err != nil {
			return nil, err
		}
		lbls[LabelGPUs] = fmt.Sprintf("%d of %d", fl.Failed, fl.Allocatable)
		if fl.Taint != "" {
			lbls[LabelTaint] = fl.Taint + ":" + string(corev1.TaintEffectNoExecute)
		}
		if len(fl.Lost) > 0 {
			lbls[LabelLostPods] = strings.Join(fl.Lost, ",")
		}
		out = append(out, evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: filter.Scope.NodeRegion(n), Labels: lbls})
	}
	return out, nil
}

// Check is the preflight of a GPU failure: it resolves the candidates as
// Candidates does and assesses each one's failure on the cluster as it is
// now. It fails when fewer candidates can fail than the selection picks
// (a refusal, or a shortfall under onInsufficientCapacity: refuse), and
// says why for each one that cannot.
func (f Failer) Check(ctx context.Context, filter objects.NodeFilter, sel v1alpha1.Selection, s Settings) error {
	filter.GPUOnly = true
	in, err := nodes.ClusterState(ctx, f.Client, f.Allowed, func(*corev1.Node) bool { return false }, nil)
	if err != nil {
		return err
	}
	var cands int
	var ok []string
	var why []string
	for i, st := range in.Others {
		n := st.Node
		if !filter.Matches(n, marks.Mark{}) || Allocatable(n) < max(s.GPUs, 1) {
			continue
		}
		cands++
		one := in
		one.Draining = []placement.NodeState{st}
		one.Others = slices.Delete(slices.Clone(in.Others), i, i+1)
		fl, err := Assess(one, s.GPUs, s.TaintKey)
		switch {
		case err != nil:
			why = append(why, err.Error())
		case fl.Refusal() != "":
			why = append(why, fmt.Sprintf("node %s: %s", n.Name, fl.Refusal()))
		case !fl.Sufficient() && s.Policy != v1alpha1.CapacityWarn:
			why = append(why, "insufficient capacity (onInsufficientCapacity: refuse): "+fl.String())
		default:
			ok = append(ok, n.Name)
		}
	}
	gpus := "every GPU"
	if s.GPUs > 0 {
		gpus = strconv.FormatInt(s.GPUs, 10) + " GPUs"
	}
	if cands == 0 {
		return fmt.Errorf("no schedulable GPU node matches with %s allocatable to fail", gpus)
	}
	want := v1alpha1.SelectCountOf(sel, cands)
	if len(ok) >= want {
		return nil
	}
	return fmt.Errorf("only %d of the %d candidate GPU nodes can lose %s, and the step picks %d: %s",
		len(ok), cands, gpus, want, strings.Join(why, "; "))
}
