package placement

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Resources is the part of a pod's or node's resources the preflight
// check counts.
type Resources struct {
	// MilliCPU is CPU in thousandths of a core.
	MilliCPU int64
	// Memory is in bytes.
	Memory int64
	// GPU is the count of nvidia.com/gpu.
	GPU int64
}

func (r Resources) add(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU + o.MilliCPU, Memory: r.Memory + o.Memory, GPU: r.GPU + o.GPU}
}

func (r Resources) sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, Memory: r.Memory - o.Memory, GPU: r.GPU - o.GPU}
}

// fits says whether r fits into free.
func (r Resources) fits(free Resources) bool {
	return r.MilliCPU <= free.MilliCPU && r.Memory <= free.Memory && r.GPU <= free.GPU
}

// String prints the resources as Kubernetes quantities.
func (r Resources) String() string {
	return fmt.Sprintf("cpu %s, memory %s, nvidia.com/gpu %d",
		resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI), resource.NewQuantity(r.Memory, resource.BinarySI), r.GPU)
}

// PodRequests is what the scheduler reserves for a pod: the sum of its
// containers' requests, or the largest init container's when larger, plus
// its overhead.
func PodRequests(pod *corev1.Pod) Resources {
	var sum, initMax Resources
	for _, c := range pod.Spec.Containers {
		sum = sum.add(requestsOf(c.Resources.Requests))
	}
	for _, c := range pod.Spec.InitContainers {
		r := requestsOf(c.Resources.Requests)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sum = sum.add(r) // a sidecar runs alongside the containers
			continue
		}
		initMax = Resources{MilliCPU: max(initMax.MilliCPU, r.MilliCPU), Memory: max(initMax.Memory, r.Memory), GPU: max(initMax.GPU, r.GPU)}
	}
	out := Resources{MilliCPU: max(sum.MilliCPU, initMax.MilliCPU), Memory: max(sum.Memory, initMax.Memory), GPU: max(sum.GPU, initMax.GPU)}
	return out.add(requestsOf(pod.Spec.Overhead))
}

func requestsOf(rl corev1.ResourceList) Resources {
	var r Resources
	if q, ok := rl[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := rl[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	}
	if q, ok := rl[objects.ResourceGPU]; ok {
		r.GPU = q.Value()
	}
	return r
}

// NodeState is a node with the pods bound to it, as the preflight check
// sees it.
type NodeState struct {
	// Node is the node.
	Node *corev1.Node
	// Pods are the pods bound to the node.
	Pods []corev1.Pod
}

// free is what is left of the node's allocatable resources once the
// requests of its live pods are counted.
func (n NodeState) free() Resources {
	free := requestsOf(n.Node.Status.Allocatable)
	for i := range n.Pods {
		if objects.IsTerminal(&n.Pods[i]) {
			continue
		}
		free = free.sub(PodRequests(&n.Pods[i]))
	}
	return free
}

// schedulable says whether the scheduler would place new pods on the node.
func (n NodeState) schedulable() bool {
	return !n.Node.Spec.Unschedulable && objects.IsReadyNode(n.Node)
}

// Input is what the capacity check of a drain looks at.
type Input struct {
	// Draining are the nodes about to be drained, with their pods.
	Draining []NodeState
	// Others are every other node of the cluster, with their pods.
	Others []NodeState
	// PDBs are the disruption budgets of the namespaces involved.
	PDBs []policyv1.PodDisruptionBudget
	// Namespaces the drill may touch; empty means any.
	Namespaces []string
	// Movable says whether an evicted pod is expected to be rescheduled
	// elsewhere; nil means every pod is. A region cutover does not expect
	// pods pinned to the lost region to move.
	Movable func(pod *corev1.Pod) bool
}

// Placement is one evicted pod and where it would go.
type Placement struct {
	// Pod is namespace/name.
	Pod string
	// Requests of the pod.
	Requests Resources
	// Node the pod would fit on; empty when none.
	Node string
}

// Result is the outcome of the capacity check of a drain.
type Result struct {
	// Nodes drained.
	Nodes []string
	// Evicted counts the pods the drain evicts.
	Evicted int
	// Demand is the sum of the requests of the movable evicted pods.
	Demand Resources
	// Free is the sum of the free resources of the remaining schedulable
	// nodes that admit at least one of the movable pods (by labels,
	// affinity and taints); of every remaining schedulable node when no pod
	// moves.
	Free Resources
	// Remaining counts the nodes Free sums over.
	Remaining int
	// Placements of the movable evicted pods, largest first.
	Placements []Placement
	// Pinned are evicted pods not expected to move (namespace/name).
	Pinned []string
	// Blocked lists disruption budgets that allow no disruption now, so
	// eviction would wait until the drain times out.
	Blocked []string
	// Outside lists evicted pods in namespaces the drill may not touch.
	Outside []string
	// Unmanaged lists evicted pods no controller owns: nothing would
	// recreate them, so kubectl's drain refuses them without --force, and
	// so does the drill.
	Unmanaged []string
}

// Unplaced lists the movable pods that fit on no remaining node.
func (p Result) Unplaced() []Placement {
	var out []Placement
	for _, pl := range p.Placements {
		if pl.Node == "" {
			out = append(out, pl)
		}
	}
	return out
}

// Sufficient says whether the remaining nodes can absorb every movable
// evicted pod and no disruption budget blocks the drain.
func (p Result) Sufficient() bool {
	return len(p.Unplaced()) == 0 && len(p.Blocked) == 0
}

// String explains the check with its numbers.
func (p Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "draining %s evicts %d pods requesting %s; the %d remaining schedulable nodes that admit them have %s free",
		strings.Join(p.Nodes, ", "), p.Evicted, p.Demand, p.Remaining, p.Free)
	if un := p.Unplaced(); len(un) > 0 {
		names := make([]string, len(un))
		for i, pl := range un {
			names[i] = fmt.Sprintf("%s (%s)", pl.Pod, pl.Requests)
		}
		fmt.Fprintf(&b, "; %d pods fit on no remaining node: %s", len(un), strings.Join(names, "; "))
	}
	if len(p.Pinned) > 0 {
		fmt.Fprintf(&b, "; %d pods are pinned to the drained nodes' region and stay Pending until revert", len(p.Pinned))
	}
	if len(p.Blocked) > 0 {
		fmt.Fprintf(&b, "; disruption budgets block eviction: %s", strings.Join(p.Blocked, "; "))
	}
	return b.String()
}

// CheckDrain computes whether the remaining schedulable nodes can absorb
// the pods a drain evicts, placing them first-fit, largest first (GPUs,
// then CPU, then memory), on nodes whose labels, affinity and taints admit
// them; and whether any disruption budget blocks the evictions. It is the
// scheduler's resource fit in miniature: it ignores pod (anti-)affinity and
// topology spread, so it can say "fits" where the scheduler later says no,
// never the other way round for resources.
func CheckDrain(in Input) Result {
	var out Result
	var moving []*corev1.Pod
	for _, n := range in.Draining {
		out.Nodes = append(out.Nodes, n.Node.Name)
		for i := range n.Pods {
			pod := &n.Pods[i]
			if objects.IsDaemonSetPod(pod) || objects.IsMirrorPod(pod) || objects.IsTerminal(pod) || pod.DeletionTimestamp != nil {
				continue
			}
			out.Evicted++
			key := pod.Namespace + "/" + pod.Name
			if len(in.Namespaces) > 0 && !slices.Contains(in.Namespaces, pod.Namespace) {
				out.Outside = append(out.Outside, key)
			}
			if metav1.GetControllerOf(pod) == nil {
				out.Unmanaged = append(out.Unmanaged, key)
			}
			if in.Movable != nil && !in.Movable(pod) {
				out.Pinned = append(out.Pinned, key)
				continue
			}
			moving = append(moving, pod)
		}
	}
	type bin struct {
		node *corev1.Node
		free Resources
	}
	var bins []*bin
	for _, n := range in.Others {
		if !n.schedulable() {
			continue
		}
		// Only nodes that admit some evicted pod are room for them.
		if len(moving) > 0 && !slices.ContainsFunc(moving, func(p *corev1.Pod) bool { return admits(n.Node, p) }) {
			continue
		}
		b := &bin{node: n.Node, free: n.free()}
		bins = append(bins, b)
		out.Remaining++
		out.Free = out.Free.add(Resources{MilliCPU: max(b.free.MilliCPU, 0), Memory: max(b.free.Memory, 0), GPU: max(b.free.GPU, 0)})
	}
	slices.SortStableFunc(moving, func(a, b *corev1.Pod) int {
		ra, rb := PodRequests(a), PodRequests(b)
		return cmp.Or(cmp.Compare(rb.GPU, ra.GPU), cmp.Compare(rb.MilliCPU, ra.MilliCPU), cmp.Compare(rb.Memory, ra.Memory),
			cmp.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name))
	})
	for _, pod := range moving {
		req := PodRequests(pod)
		out.Demand = out.Demand.add(req)
		pl := Placement{Pod: pod.Namespace + "/" + pod.Name, Requests: req}
		for _, b := range bins {
			if req.fits(b.free) && admits(b.node, pod) {
				b.free = b.free.sub(req)
				pl.Node = b.node.Name
				break
			}
		}
		out.Placements = append(out.Placements, pl)
	}
	out.Blocked = blockingBudgets(in.PDBs, moving, in.Draining)
	return out
}

// admits says whether the node's labels and taints admit the pod.
func admits(node *corev1.Node, pod *corev1.Pod) bool {
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return false
	}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if t.Key == corev1.TaintNodeUnschedulable {
			continue // the cordon taint; schedulable() already looked at it
		}
		if !slices.ContainsFunc(pod.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(logr.Discard(), t, false) }) {
			return false
		}
	}
	return true
}

// blockingBudgets lists the budgets that cover an evicted pod and allow no
// disruption now. A budget that allows some disruptions but fewer than the
// drain needs does not block: the drain evicts one pod at a time and waits
// for replacements, provided they fit (which the placement checks).
func blockingBudgets(pdbs []policyv1.PodDisruptionBudget, moving []*corev1.Pod, draining []NodeState) []string {
	var all []*corev1.Pod
	all = append(all, moving...)
	for _, n := range draining {
		for i := range n.Pods {
			p := &n.Pods[i]
			if !slices.Contains(all, p) && !objects.IsDaemonSetPod(p) && !objects.IsMirrorPod(p) && !objects.IsTerminal(p) && p.DeletionTimestamp == nil {
				all = append(all, p)
			}
		}
	}
	var out []string
	for i := range pdbs {
		pdb := &pdbs[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		covered := 0
		for _, p := range all {
			if p.Namespace == pdb.Namespace && sel.Matches(labels.Set(p.Labels)) {
				covered++
			}
		}
		if covered == 0 || pdb.Status.DisruptionsAllowed > 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s/%s allows 0 disruptions (healthy %d, desired healthy %d) and covers %d evicted pods",
			pdb.Namespace, pdb.Name, pdb.Status.CurrentHealthy, pdb.Status.DesiredHealthy, covered))
	}
	slices.Sort(out)
	return out
}
