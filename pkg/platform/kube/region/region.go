package region

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// Observer hears what a cutover does, as it happens.
type Observer interface {
	// TookEffect says a disruptive call (a pod deleted, a workload scaled
	// down) succeeded now.
	TookEffect()
	// Note records an observation for the report.
	Note(msg string)
}

// Cutover takes regions down and brings them back.
type Cutover struct {
	// Client reads live and writes.
	Client client.Client
	// Allowed are the namespaces faults may touch (safety.namespaces):
	// a region's workloads are looked for there, and no pod outside them
	// is ever deleted.
	Allowed []string
	// Namespaces are where workloads a cutover scaled are looked for on
	// restore (the watched namespaces).
	Namespaces []string
	// Clock times the cutover.
	Clock clock.PassiveClock
	// PollInterval is how often the wait for a region's pods re-reads.
	PollInterval time.Duration
	// Timeout bounds the wait for a region's pods to be gone.
	Timeout time.Duration
}

// Region is the lost region of one cutover fault.
type Region struct {
	// Cutover is the fault's spec.
	Cutover *v1alpha1.RegionCutover
	// Scope says which region unlabelled nodes and workloads are in.
	Scope objects.Scope
	// Mark is the fault's bookkeeping.
	Mark marks.Mark
}

// State is what a process remembers about one region it took down. The
// zero value is ready to use; it is safe for concurrent use.
type State struct {
	mu sync.Mutex
	// down: the region's nodes were cordoned and its pods deleted.
	down bool
	// pods are the pods deleted, node -> uid -> namespace/name.
	pods map[string]map[types.UID]string
	// restored: the region's nodes were uncordoned.
	restored bool
}

// Members are what a cutover takes down: the nodes of the region (method
// drain) or its Deployments and StatefulSets (scaleToZero), by name.
type Members struct {
	// Nodes are node names.
	Nodes []string
	// Workloads are Kind/namespace/name.
	Workloads []string
}

// Members expands a region into what a cutover of r takes down, read
// live: the region's nodes not cordoned by someone else (drain), or its
// workloads with replicas (scaleToZero). Both include what r's fault
// already took down, so a resumed run sees the same region.
func (c Cutover) Members(ctx context.Context, r Region) (Members, error) {
	if r.Cutover.Method == v1alpha1.CutoverScaleToZero {
		ws, err := workloads.InRegion(ctx, c.Client, c.Allowed, r.Cutover.From, r.Scope, r.Mark)
		if err != nil {
			return Members{}, err
		}
		var out Members
		for _, w := range ws {
			out.Workloads = append(out.Workloads, objects.WorkloadName(w.Ref))
		}
		slices.Sort(out.Workloads)
		return out, nil
	}
	var list corev1.NodeList
	if err := c.Client.List(ctx, &list); err != nil {
		return Members{}, fmt.Errorf("listing nodes: %w", err)
	}
	var out Members
	for i := range list.Items {
		if n := &list.Items[i]; c.isRegionNode(n, r) {
			out.Nodes = append(out.Nodes, n.Name)
		}
	}
	slices.Sort(out.Nodes)
	return out, nil
}

// isRegionNode says whether a drain cutover of r takes node n down: a
// node of the region that no other fault holds and no one else cordoned.
func (c Cutover) isRegionNode(n *corev1.Node, r Region) bool {
	return r.Scope.NodeRegion(n) == r.Cutover.From && marks.OwnershipOf(n.Annotations, r.Mark) != marks.Foreign &&
		(objects.NodeFilter{}).Matches(n, r.Mark)
}

// TakeDown takes the whole region down at once and returns once it is
// down. Method scaleToZero scales every workload of the region to zero,
// recording its replicas in its marks. Method drain (takeDown) cordons
// every node of the region and deletes every pod on them, then waits
// until those pods are gone. It is idempotent: a repeated call in the same
// process only waits, and one in a new process finds the region's marks
// and finishes what is left.
func (c Cutover) TakeDown(ctx context.Context, r Region, st *State, obs Observer) error {
	if r.Cutover.Method == v1alpha1.CutoverScaleToZero {
		ws, err := workloads.InRegion(ctx, c.Client, c.Allowed, r.Cutover.From, r.Scope, r.Mark)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			return fmt.Errorf("region %s has no Deployment or StatefulSet with replicas in %v to scale to zero", r.Cutover.From, c.Allowed)
		}
		return forEach(ctx, ws, func(ctx context.Context, w workloads.Listed) error {
			return workloads.ScaleToZero(ctx, c.Client, c.Allowed, w.Ref, r.Mark, obs)
		})
	}
	if err := c.takeDown(ctx, r, st, obs); err != nil {
		return err
	}
	return c.await(ctx, st)
}

// takeDown does a drain cutover's work for its whole region, once per
// State: one capacity check, every node of the region cordoned, then
// every pod on them deleted at once, as a region that is lost loses them
// all together.
//
// Pods are deleted, not evicted: pods pinned to a lost region cannot be
// replaced, so disruption budgets would only hold the drain until its
// timeout. DaemonSet and mirror pods are left, as kubectl's drain leaves
// them; pods no controller owns, or outside safety.namespaces, stop the
// cutover before anything changes.
func (c Cutover) takeDown(ctx context.Context, r Region, st *State, obs Observer) error {
	st.mu.Lock()
	done := st.down
	st.mu.Unlock()
	if done {
		return nil
	}
	from := r.Cutover.From
	movable := func(pod *corev1.Pod) bool {
		return r.Scope.WorkloadRegion(nil, &corev1.PodTemplateSpec{Spec: pod.Spec}) != from
	}
	in, err := nodes.ClusterState(ctx, c.Client, c.Allowed, func(n *corev1.Node) bool { return c.isRegionNode(n, r) }, movable)
	if err != nil {
		return err
	}
	if len(in.Draining) == 0 {
		return fmt.Errorf("region %s has no schedulable node (label %s) to take down", from, objects.LabelRegion)
	}
	pf := placement.CheckDrain(in)
	if len(pf.Outside) > 0 {
		return fmt.Errorf("refusing to cut over region %s: its nodes run pods outside safety.namespaces %v: %s",
			from, c.Allowed, strings.Join(pf.Outside, ", "))
	}
	if len(pf.Unmanaged) > 0 {
		return fmt.Errorf("refusing to cut over region %s: %s", from, nodes.UnmanagedRefusal(pf.Unmanaged))
	}
	if !pf.Sufficient() {
		obs.Note(fmt.Sprintf("region %s cut over without room for its pods elsewhere: %s", from, pf))
	} else if len(pf.Pinned) > 0 {
		obs.Note(fmt.Sprintf("%d pods are pinned to region %s and stay Pending until fail-back", len(pf.Pinned), from))
	}
	plan, err := planDeletion(in, c.Allowed, from)
	if err != nil {
		return err
	}

	start := c.Clock.Now()
	if err := forEach(ctx, in.Draining, func(ctx context.Context, n placement.NodeState) error {
		return nodes.Cordon(ctx, c.Client, n.Node.Name, n.Node, r.Mark)
	}); err != nil {
		return err
	}
	obs.Note(fmt.Sprintf("cordoned the %d nodes of region %s before deleting their pods", len(in.Draining), from))
	gone, err := c.deletePods(ctx, plan, obs)
	if err != nil {
		return err
	}
	obs.Note(fmt.Sprintf("deleted the %d pods on the %d nodes of region %s in %s (disruption budgets do not hold a lost region)",
		plan.count, len(in.Draining), from, c.Clock.Since(start).Round(time.Millisecond)))
	st.mu.Lock()
	st.down, st.pods = true, gone
	st.mu.Unlock()
	return nil
}

// Restore brings a region back at once: every node fault r.Mark cordoned
// is uncordoned (drain), or every workload it scaled is restored
// (scaleToZero), whether or not the take-down finished. Objects the fault
// does not hold are left alone. A partly failed Restore can be repeated.
func (c Cutover) Restore(ctx context.Context, r Region, st *State) error {
	if r.Cutover.Method == v1alpha1.CutoverScaleToZero {
		_, err := workloads.RestoreMarked(ctx, c.Client, c.Namespaces, r.Mark)
		return err
	}
	st.mu.Lock()
	done := st.restored
	st.mu.Unlock()
	if done {
		return nil
	}
	if err := UncordonMarked(ctx, c.Client, r.Mark); err != nil {
		return err
	}
	st.mu.Lock()
	st.restored = true
	st.mu.Unlock()
	return nil
}

// UncordonMarked uncordons every node fault m holds, regionWorkers at a
// time, each from the List (no GET unless a patch conflicts).
func UncordonMarked(ctx context.Context, c client.Client, m marks.Mark) error {
	var list corev1.NodeList
	if err := c.List(ctx, &list); err != nil {
		return fmt.Errorf("finding the nodes of the lost region: listing nodes: %w", err)
	}
	var held []*corev1.Node
	for i := range list.Items {
		if marks.OwnershipOf(list.Items[i].Annotations, m) == marks.Ours {
			held = append(held, &list.Items[i])
		}
	}
	return forEach(ctx, held, func(ctx context.Context, n *corev1.Node) error {
		return nodes.Uncordon(ctx, c, n.Name, n, m)
	})
}

// await waits until the pods takeDown deleted are gone, node by node, with
// one field-selected List of a node's pods per poll (metadata only: the
// uids are all it reads). One deadline, Timeout, bounds the whole region.
func (c Cutover) await(ctx context.Context, st *State) error {
	st.mu.Lock()
	want := st.pods
	st.mu.Unlock()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	for _, node := range names {
		var left []string
		err := wait.PollUntilContextCancel(ctx, c.PollInterval, true, func(ctx context.Context) (bool, error) {
			var err error
			left, err = c.podsLeftOn(ctx, node, want[node])
			return len(left) == 0, err
		})
		if err != nil && len(left) > 0 {
			slices.Sort(left)
			return fmt.Errorf("node %s of the lost region: %d pods still terminating after %s: %s: %w",
				node, len(left), c.Timeout, strings.Join(left, ", "), err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// podsLeftOn lists the pods of want (uid -> namespace/name) still on a
// node, with one field-selected List of pod metadata.
func (c Cutover) podsLeftOn(ctx context.Context, node string, want map[types.UID]string) ([]string, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := c.Client.List(ctx, list, client.MatchingFields{"spec.nodeName": node}); err != nil {
		return nil, fmt.Errorf("listing pods on node %s: %w", node, err)
	}
	var left []string
	for _, pod := range list.Items {
		if key, ok := want[pod.UID]; ok {
			left = append(left, key)
		}
	}
	return left, nil
}
