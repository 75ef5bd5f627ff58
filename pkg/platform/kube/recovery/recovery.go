package recovery

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/storeoutage"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// Recovery lists and reverts marked objects on one cluster.
type Recovery struct {
	// Client reads live and writes. Required.
	Client client.Client
	// Outage lists and deletes the NetworkPolicies of store outages (in
	// its Namespaces) and reverts store outages.
	Outage storeoutage.Outage
	// Chaos lists and deletes Chaos Mesh objects.
	Chaos chaos.Client
	// Switcher restores Services and HTTPRoutes from their marks.
	Switcher traffic.Switcher
}

// kind is one kind of object firedrill marks: list finds the marked
// objects of namespaces ("" is every namespace; nodes are cluster-wide),
// and Revert undoes a fault on the targets it returns.
type kind struct {
	name string
	list func(ctx context.Context, r Recovery, namespaces []string, f marks.Filter) ([]marks.Object, error)
}

// kinds are the kinds Marked looks at, in the order recovery visits them:
// a region's nodes and workloads before the traffic switch.
func kinds() []kind {
	return []kind{
		{name: "nodes", list: func(ctx context.Context, r Recovery, _ []string, f marks.Filter) ([]marks.Object, error) {
			return nodes.Marked(ctx, r.Client, f)
		}},
		{name: "workloads", list: func(ctx context.Context, r Recovery, namespaces []string, f marks.Filter) ([]marks.Object, error) {
			return workloads.Marked(ctx, r.Client, namespaces, f)
		}},
		{name: "networkpolicies", list: func(ctx context.Context, r Recovery, _ []string, f marks.Filter) ([]marks.Object, error) {
			return r.Outage.Marked(ctx, f)
		}},
		{name: "chaos mesh objects", list: func(ctx context.Context, r Recovery, namespaces []string, f marks.Filter) ([]marks.Object, error) {
			return r.Chaos.Marked(ctx, namespaces, f)
		}},
		{name: "traffic switch objects", list: func(ctx context.Context, r Recovery, namespaces []string, f marks.Filter) ([]marks.Object, error) {
			return traffic.Marked(ctx, r.Client, namespaces, f)
		}},
	}
}

// Marked lists the objects of namespaces ("" is every namespace; nodes
// are cluster-wide; NetworkPolicies are looked for in the Outage's
// namespaces) that carry marks f matches, in the order recovery visits
// them.
func (r Recovery) Marked(ctx context.Context, namespaces []string, f marks.Filter) ([]marks.Object, error) {
	var out []marks.Object
	for _, k := range kinds() {
		found, err := k.list(ctx, r, namespaces, f)
		if err != nil {
			return nil, fmt.Errorf("finding marked %s: %w", k.name, err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// revertNode restores a node fault m failed or cordoned, from the node's
// own marks: a GPU failure's record restores its GPUs and its taint, and
// any other mark is a cordon. Without the spec (drill cleanup
// --from-cluster) the record alone says which.
func (r Recovery) revertNode(ctx context.Context, spec *v1alpha1.Fault, name string, m marks.Mark) error {
	if spec != nil && spec.GPUFailure == nil {
		return nodes.Uncordon(ctx, r.Client, name, nil, m)
	}
	restored, err := gpu.Restore(ctx, r.Client, name, m)
	if err != nil || restored || spec != nil {
		return err
	}
	return nodes.Uncordon(ctx, r.Client, name, nil, m)
}

// Revert reverts one target of the fault m names, without a cutover's
// traffic fail-back. spec is nil when the fault's plan is unknown: each
// object is then reverted from its marks alone. A region target is not
// this package's: it is unsupported here.
func (r Recovery) Revert(ctx context.Context, spec *v1alpha1.Fault, t evidence.Target, m marks.Mark) error {
	switch t.Kind {
	case evidence.KindPod:
		return nil // the workload's controller replaced it
	case evidence.KindNode:
		return r.revertNode(ctx, spec, t.Name, m)
	case marks.KindWorkload:
		ref, err := objects.ParseWorkload(t.Name)
		if err != nil {
			return err
		}
		return workloads.RestoreScale(ctx, r.Client, ref, m)
	case evidence.KindStore:
		ref, err := objects.ParseWorkload(t.Name)
		if err != nil {
			return err
		}
		if spec == nil {
			return r.Outage.Revert(ctx, nil, ref, m)
		}
		return r.Outage.Revert(ctx, spec.ModelStoreOutage, ref, m)
	case evidence.KindChaos:
		return r.Chaos.Delete(ctx, t.Name)
	case marks.KindNetworkPolicy:
		return r.Outage.DeleteNetpol(ctx, t.Name)
	case marks.KindService, marks.KindHTTPRoute:
		return r.Switcher.Restore(ctx, t, m)
	}
	return fmt.Errorf("target %s: %w", t, platform.ErrUnsupported)
}
