package gpu

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
)

// Allocatable is a node's allocatable nvidia.com/gpu.
func Allocatable(node *corev1.Node) int64 {
	q, ok := node.Status.Allocatable[objects.ResourceGPU]
	if !ok {
		return 0
	}
	return q.Value()
}

// holdsGPU says whether a pod holds GPUs of its node now: it requests
// some, is bound, has not finished and is not on its way out.
func holdsGPU(pod *corev1.Pod) bool {
	return placement.PodRequests(pod).GPU > 0 && !objects.IsTerminal(pod) && pod.DeletionTimestamp == nil
}

// Lost picks the GPU pods of a node that lose their GPUs when its
// allocatable nvidia.com/gpu drops to remaining: the oldest pods keep
// theirs while they fit, so the youngest lose theirs first (which pod
// ran on the failed device is not known to the API). Pods that hold no
// GPU, finished or are terminating are never picked. The result is
// sorted by namespace/name.
func Lost(pods []corev1.Pod, remaining int64) []*corev1.Pod {
	var holders []*corev1.Pod
	for i := range pods {
		if holdsGPU(&pods[i]) {
			holders = append(holders, &pods[i])
		}
	}
	slices.SortStableFunc(holders, func(a, b *corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(objects.PodKey(a), objects.PodKey(b)))
	})
	var lost []*corev1.Pod
	used := int64(0)
	for _, p := range holders {
		req := placement.PodRequests(p).GPU
		if used+req <= remaining {
			used += req
			continue
		}
		lost = append(lost, p)
	}
	slices.SortFunc(lost, func(a, b *corev1.Pod) int { return cmp.Compare(objects.PodKey(a), objects.PodKey(b)) })
	return lost
}

// Tainted picks the pods a NoExecute taint evicts: those that do not
// tolerate it and are not on their way out, sorted by namespace/name.
func Tainted(pods []corev1.Pod, taint corev1.Taint) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if objects.IsTerminal(p) || p.DeletionTimestamp != nil {
			continue
		}
		if !slices.ContainsFunc(p.Spec.Tolerations, func(t corev1.Toleration) bool { return t.ToleratesTaint(logr.Discard(), &taint, false) }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return cmp.Compare(objects.PodKey(a), objects.PodKey(b)) })
	return out
}

// Taint is the NoExecute taint a node whose every GPU failed gets.
func Taint(key string) corev1.Taint {
	return corev1.Taint{Key: key, Effect: corev1.TaintEffectNoExecute}
}

// Failure is what failing GPUs of one node would do.
type Failure struct {
	// Node is the node's name.
	Node string
	// Allocatable is the node's nvidia.com/gpu allocatable now; Failed of
	// them fail.
	Allocatable, Failed int64
	// Taint is the key of the NoExecute taint the failure adds; empty
	// when it adds none.
	Taint string
	// Lost are the GPU pods that lose their GPUs (namespace/name): the
	// failure deletes them.
	Lost []string
	// Evicted are the other pods the taint evicts (namespace/name).
	Evicted []string
	// DaemonPods are the DaemonSet pods the taint evicts, which their
	// controller does not put back until the taint is gone.
	DaemonPods []string
	// Placement is the capacity check of the removed pods on the other
	// nodes. Its disruption budgets are ignored: they do not cover a
	// hardware failure.
	Placement placement.Result
}

// Refusal says why a failure must not go ahead whatever the capacity
// policy: it would remove pods outside safety.namespaces, or pods no
// controller owns. Empty when it may.
func (f Failure) Refusal() string {
	var why []string
	if p := f.Placement.Outside; len(p) > 0 {
		why = append(why, fmt.Sprintf("it would remove pods outside safety.namespaces: %s", strings.Join(p, ", ")))
	}
	if p := f.Placement.Unmanaged; len(p) > 0 {
		why = append(why, fmt.Sprintf("pods no controller owns would be lost for good: %s", strings.Join(p, ", ")))
	}
	return strings.Join(why, "; ")
}

// Sufficient says whether the other nodes can take every removed pod.
func (f Failure) Sufficient() bool { return len(f.Placement.Unplaced()) == 0 }

// String explains the failure and its capacity check with numbers.
func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "failing %d of the %d GPUs of node %s", f.Failed, f.Allocatable, f.Node)
	if f.Taint != "" {
		fmt.Fprintf(&b, " (and tainting it %s:NoExecute)", f.Taint)
	}
	p := f.Placement
	fmt.Fprintf(&b, " removes %d pods requesting %s; the %d other schedulable nodes that admit them have %s free",
		p.Evicted, p.Demand, p.Remaining, p.Free)
	if un := p.Unplaced(); len(un) > 0 {
		names := make([]string, len(un))
		for i, pl := range un {
			names[i] = fmt.Sprintf("%s (%s)", pl.Pod, pl.Requests)
		}
		fmt.Fprintf(&b, "; %d pods fit on no other node and stay Pending until revert: %s", len(un), strings.Join(names, "; "))
	}
	return b.String()
}

// Assess works out what failing gpus GPUs of node (0: every one) would
// do on the cluster in (its Draining holds the node and every pod on it,
// its Others every other node), and checks that the others can take the
// removed pods. taintKey is the taint a node whose every GPU fails gets
// ("" for none).
func Assess(in placement.Input, gpus int64, taintKey string) (Failure, error) {
	if len(in.Draining) != 1 {
		return Failure{}, fmt.Errorf("assessing a GPU failure needs one node, got %d", len(in.Draining))
	}
	st := in.Draining[0]
	f := Failure{Node: st.Node.Name, Allocatable: Allocatable(st.Node), Failed: gpus}
	if f.Allocatable < 1 {
		return f, fmt.Errorf("node %s has no allocatable %s to fail", f.Node, objects.ResourceGPU)
	}
	if gpus == 0 {
		f.Failed = f.Allocatable
	}
	if f.Failed > f.Allocatable {
		return f, fmt.Errorf("node %s has %d allocatable %s; gpus: %d fails more than it has", f.Node, f.Allocatable, objects.ResourceGPU, gpus)
	}
	lost := Lost(st.Pods, f.Allocatable-f.Failed)
	removed := slices.Clone(lost)
	if f.Failed == f.Allocatable && taintKey != "" {
		taint := Taint(taintKey)
		if !slices.ContainsFunc(st.Node.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&taint) }) {
			f.Taint = taintKey
			for _, p := range Tainted(st.Pods, taint) {
				if slices.Contains(removed, p) {
					continue
				}
				if objects.IsDaemonSetPod(p) {
					f.DaemonPods = append(f.DaemonPods, objects.PodKey(p))
					continue
				}
				removed = append(removed, p)
				f.Evicted = append(f.Evicted, objects.PodKey(p))
			}
		}
	}
	for _, p := range lost {
		f.Lost = append(f.Lost, objects.PodKey(p))
	}
	pods := make([]corev1.Pod, len(removed))
	for i, p := range removed {
		pods[i] = *p
	}
	in.Draining = []placement.NodeState{{Node: st.Node, Pods: pods}}
	f.Placement = placement.CheckDrain(in)
	return f, nil
}
