package nodes

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
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/drain"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/placement"
)

// Observer hears what a drain does, as it happens.
type Observer interface {
	// TookEffect says a disruptive call (an eviction) succeeded now.
	TookEffect()
	// Note records an observation for the report.
	Note(msg string)
}

// Drainer drains nodes the way an operator would: cordon, then kubectl's
// drain helper, which evicts through the Eviction API.
type Drainer struct {
	// Client reads live and patches nodes.
	Client client.Client
	// Clientset is what kubectl's drain helper evicts through.
	Clientset kubernetes.Interface
	// Allowed are the namespaces faults may touch (safety.namespaces).
	Allowed []string
	// Clock times the drain.
	Clock clock.PassiveClock
	// PollInterval paces the retries of refused evictions.
	PollInterval time.Duration
}

// Settings are what one drain honours.
type Settings struct {
	// Timeout bounds the evictions.
	Timeout time.Duration
	// Grace is given to each evicted pod; nil uses the pod's own.
	Grace *metav1.Duration
	// Policy says what a capacity shortfall does: refuse (the default)
	// or warn.
	Policy v1alpha1.CapacityPolicy
}

// Drain checks capacity, records the node's state in its marks, cordons
// it and evicts its pods through the Eviction API (honouring disruption
// budgets, skipping DaemonSet pods). A node this fault already cordoned is
// drained again, which evicts what is left.
func (d Drainer) Drain(ctx context.Context, name string, m marks.Mark, s Settings, obs Observer) error {
	again := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var node corev1.Node
		if err := d.Client.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
			return fmt.Errorf("getting node %s: %w", name, err)
		}
		switch marks.OwnershipOf(node.Annotations, m) {
		case marks.Ours:
			again = true
			return nil
		case marks.Foreign:
			return marks.HeldError("node "+name, node.Annotations)
		}
		in, err := ClusterState(ctx, d.Client, d.Allowed, func(n *corev1.Node) bool { return n.Name == name }, nil)
		if err != nil {
			return err
		}
		pf := placement.CheckDrain(in)
		if len(pf.Outside) > 0 {
			return fmt.Errorf("refusing to drain node %s: it runs pods outside safety.namespaces %v: %s",
				name, d.Allowed, strings.Join(pf.Outside, ", "))
		}
		if len(pf.Unmanaged) > 0 {
			return fmt.Errorf("refusing to drain node %s: %s", name, UnmanagedRefusal(pf.Unmanaged))
		}
		if !pf.Sufficient() {
			if s.Policy != v1alpha1.CapacityWarn {
				return fmt.Errorf("refusing to drain: insufficient capacity (onInsufficientCapacity: refuse): %s", pf)
			}
			obs.Note("drained despite insufficient capacity (onInsufficientCapacity: warn): " + pf.String())
		}
		return patchCordon(ctx, d.Client, &node, m)
	})
	if err != nil {
		return err
	}
	return d.evict(ctx, name, s, obs, !again)
}

// evict runs kubectl's drain on a cordoned node; first says whether this
// call cordoned it (a repeated drain only finishes the evictions).
func (d Drainer) evict(ctx context.Context, name string, s Settings, obs Observer, first bool) error {
	logger := log.FromContext(ctx).With("node", name)
	grace := -1 // the pod's own terminationGracePeriodSeconds
	if s.Grace != nil {
		grace = int(s.Grace.Seconds())
	}
	out := logWriter(func(line string) { logger.Debug("drain", "output", line) })
	defer func() { _ = out.Close() }()
	h := &drain.Helper{
		Ctx: ctx, Client: EvictionRecorder{Interface: d.Clientset, OnEvicted: obs.TookEffect},
		GracePeriodSeconds:   grace,
		IgnoreAllDaemonSets:  true,
		DeleteEmptyDirData:   true,
		Timeout:              s.Timeout,
		EvictErrorRetryDelay: min(5*time.Second, d.PollInterval*2),
		Out:                  out, ErrOut: out,
	}
	start := d.Clock.Now()
	if err := drain.RunNodeDrain(h, name); err != nil {
		return fmt.Errorf("draining node %s: %w", name, err)
	}
	if first {
		obs.Note(fmt.Sprintf("node %s drained through the Eviction API in %s", name, d.Clock.Since(start).Round(time.Millisecond)))
	}
	return nil
}

// Cordon records a node's state in its marks and cordons it, with no
// capacity check (the caller ran one). known, when set, is the node as the
// caller listed it, so the first attempt needs no GET; a conflict reads it
// again. A node this fault already holds is left as it is; one another
// fault holds is refused.
func Cordon(ctx context.Context, c client.Client, name string, known *corev1.Node, m marks.Mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := known
		known = nil
		if node == nil {
			node = &corev1.Node{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
				return fmt.Errorf("getting node %s: %w", name, err)
			}
		}
		switch marks.OwnershipOf(node.Annotations, m) {
		case marks.Ours:
			return nil
		case marks.Foreign:
			return marks.HeldError("node "+name, node.Annotations)
		}
		return patchCordon(ctx, c, node, m)
	})
}

// patchCordon cordons a node as read at its resourceVersion and records
// its prior state and the fault's marks in the same patch; a conflict is
// the caller's to retry.
func patchCordon(ctx context.Context, c client.Client, node *corev1.Node, m marks.Mark) error {
	if err := patchNode(ctx, c, node.Name, marks.CordonPatch(m, node.Spec.Unschedulable, node.ResourceVersion)); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	return nil
}

func patchNode(ctx context.Context, c client.Client, name string, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	return c.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, client.RawPatch(types.MergePatchType, data))
}

// Uncordon restores a node fault m cordoned and removes the marks. A node
// that is gone or not marked by m is left alone. known, when set, is the
// node as the caller listed it, so the first attempt needs no GET; a
// conflict reads it again.
func Uncordon(ctx context.Context, c client.Client, name string, known *corev1.Node, m marks.Mark) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := known
		known = nil
		if node == nil {
			node = &corev1.Node{}
			err := c.Get(ctx, client.ObjectKey{Name: name}, node)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("getting node %s: %w", name, err)
			}
		}
		if marks.OwnershipOf(node.Annotations, m) != marks.Ours {
			return nil
		}
		err := patchNode(ctx, c, name, marks.UncordonPatch(node.Annotations, node.ResourceVersion))
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("uncordoning node %s: %w", name, err)
		}
		return nil
	})
}

// UnmanagedRefusal explains why pods no controller owns stop a drain.
func UnmanagedRefusal(pods []string) string {
	return fmt.Sprintf("pods no controller owns would be lost for good (kubectl drain refuses them without --force): %s",
		strings.Join(pods, ", "))
}

// ClusterState reads what a capacity check looks at, with one List each of
// nodes, pods and disruption budgets; draining picks the nodes about to
// go, and movable (nil: every pod) the evicted pods expected to move.
func ClusterState(ctx context.Context, r client.Reader, allowed []string, draining func(*corev1.Node) bool, movable func(*corev1.Pod) bool) (placement.Input, error) {
	var nodeList corev1.NodeList
	if err := r.List(ctx, &nodeList); err != nil {
		return placement.Input{}, fmt.Errorf("listing nodes: %w", err)
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods); err != nil {
		return placement.Input{}, fmt.Errorf("listing pods: %w", err)
	}
	var pdbs policyv1.PodDisruptionBudgetList
	if err := r.List(ctx, &pdbs); err != nil {
		return placement.Input{}, fmt.Errorf("listing pod disruption budgets: %w", err)
	}
	byNode := map[string][]corev1.Pod{}
	for _, pod := range pods.Items {
		if pod.Spec.NodeName != "" {
			byNode[pod.Spec.NodeName] = append(byNode[pod.Spec.NodeName], pod)
		}
	}
	in := placement.Input{PDBs: pdbs.Items, Namespaces: allowed, Movable: movable}
	for i := range nodeList.Items {
		n := &nodeList.Items[i]
		st := placement.NodeState{Node: n, Pods: byNode[n.Name]}
		if draining(n) {
			in.Draining = append(in.Draining, st)
		} else {
			in.Others = append(in.Others, st)
		}
	}
	return in, nil
}

// Candidates lists the nodes filter selects for fault m, as node targets
// with their region (in the filter's scope) and labels.
func Candidates(ctx context.Context, r client.Reader, filter objects.NodeFilter, m marks.Mark) ([]evidence.Target, error) {
	var opts []client.ListOption
	if filter.Selector != nil && !filter.Selector.Empty() {
		opts = append(opts, client.MatchingLabelsSelector{Selector: filter.Selector})
	}
	var list corev1.NodeList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var out []evidence.Target
	for i := range list.Items {
		n := &list.Items[i]
		if filter.Matches(n, m) {
			out = append(out, evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: filter.Scope.NodeRegion(n), Labels: n.Labels})
		}
	}
	return out, nil
}

// Marked lists the nodes whose marks filter matches.
func Marked(ctx context.Context, r client.Reader, filter marks.Filter) ([]marks.Object, error) {
	var list corev1.NodeList
	if err := r.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var out []marks.Object
	for i := range list.Items {
		n := &list.Items[i]
		if m, ok := filter.Changed(n.Annotations); ok {
			out = append(out, m.On(evidence.Target{Kind: evidence.KindNode, Name: n.Name, Region: objects.RegionOfNode(n)}))
		}
	}
	slices.SortFunc(out, func(a, b marks.Object) int { return strings.Compare(a.Target.Name, b.Target.Name) })
	return out, nil
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
