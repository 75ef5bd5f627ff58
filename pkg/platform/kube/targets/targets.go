package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/preflight"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/storeoutage"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
)

// Labels of a region target: what a cutover of the region would take down
// and how it would move traffic, read live, so a dry run (which prints
// targets) shows them. Names are comma-separated.
const (
	// LabelCutoverMethod is drain or scaleToZero.
	LabelCutoverMethod = "firedrill.dev/method"
	// LabelCutoverNodes are the nodes a drain cutover cordons.
	LabelCutoverNodes = "firedrill.dev/nodes"
	// LabelCutoverWorkloads are the Kind/namespace/name of the workloads
	// a scaleToZero cutover scales to zero.
	LabelCutoverWorkloads = "firedrill.dev/workloads"
	// LabelCutoverTraffic is how traffic moves: "auto", or "manual: " and
	// the switch ("Service recsys/frontdoor selector region").
	LabelCutoverTraffic = "firedrill.dev/traffic"
)

// Resolver resolves the targets of faults in one scope: a plan's
// namespaces and, in a fleet, a cluster's region.
type Resolver struct {
	// Client reads live. Required.
	Client client.Reader
	// Discovery says which Chaos Mesh kinds the cluster serves.
	Discovery chaos.Discovery
	// GPU picks the nodes of a GPU failure.
	GPU gpu.Failer
	// Outage names the model store.
	Outage storeoutage.Outage
	// Switcher checks and describes a manual cutover's switch.
	Switcher traffic.Switcher
	// Cutover finds what a region's cutover takes down.
	Cutover region.Cutover
	// Checker checks that the surviving region can take over.
	Checker preflight.Checker
	// Namespace is the plan's target namespace.
	Namespace string
	// Allowed are the namespaces faults may touch.
	Allowed []string
	// Scope says which region the cluster is in a fleet.
	Scope objects.Scope
}

// Targets returns the targets of f, whose marks are m. A region cutover
// has one target, the region.
func (r Resolver) Targets(ctx context.Context, f platform.Fault, m marks.Mark) ([]evidence.Target, error) {
	s := f.Spec
	switch {
	case s.PodKill != nil:
		pk := s.PodKill
		ns := pk.Namespace
		if ns == "" {
			ns = r.Namespace
		}
		if err := objects.NamespaceAllowed(r.Allowed, ns); err != nil {
			return nil, err
		}
		sel, err := objects.SelectorOf(pk.Selector)
		if err != nil {
			return nil, err
		}
		return pods.Candidates(ctx, r.Client, ns, objects.PodFilter{Selector: sel, Region: pk.Region, GPUOnly: pk.GPUOnly, Scope: r.Scope})
	case s.NodeDrain != nil:
		nd := s.NodeDrain
		sel, err := objects.SelectorOf(nd.Selector)
		if err != nil {
			return nil, err
		}
		return nodes.Candidates(ctx, r.Client, objects.NodeFilter{Selector: sel, Region: nd.Region, GPUOnly: nd.GPUOnly, Scope: r.Scope}, m)
	case s.GPUFailure != nil:
		g := s.GPUFailure
		sel, err := objects.SelectorOf(g.Selector)
		if err != nil {
			return nil, err
		}
		return r.GPU.Candidates(ctx, objects.NodeFilter{Selector: sel, Region: g.Region, GPUOnly: true, Scope: r.Scope}, gpu.SettingsOf(g), m)
	case s.RegionCutover != nil:
		t, err := r.Region(ctx, f, m)
		if err != nil {
			return nil, err
		}
		return []evidence.Target{t}, nil
	case s.ModelStoreOutage != nil:
		ref, err := r.Outage.StoreRef()
		if err != nil {
			return nil, err
		}
		if err := r.Outage.CheckMode(s.ModelStoreOutage); err != nil {
			return nil, err
		}
		return []evidence.Target{{Kind: evidence.KindStore, Name: objects.WorkloadName(ref), Region: s.ModelStoreOutage.Region}}, nil
	case s.ChaosMesh != nil:
		if err := chaos.Check(r.Discovery, s.ChaosMesh.Kind); err != nil {
			return nil, err
		}
		name := chaos.TargetName(s.ChaosMesh.Kind, r.Namespace, objects.ObjectName(f.RunID, f.ID))
		return []evidence.Target{{Kind: evidence.KindChaos, Name: name}}, nil
	}
	return nil, fmt.Errorf("step %s: %w", f.ID, platform.ErrUnsupported)
}

// Region checks cutover f can run and returns its one target, the lost
// region, labelled with what a cutover would take down (read live). A
// switch that cannot work, a surviving region that cannot take over and a
// lost region with nothing to take down fail before anything is touched.
func (r Resolver) Region(ctx context.Context, f platform.Fault, m marks.Mark) (evidence.Target, error) {
	rc := f.Spec.RegionCutover
	if rc.From == rc.To {
		return evidence.Target{}, fmt.Errorf("region cutover from %s to itself", rc.From)
	}
	traffic := "auto"
	if rc.Traffic == v1alpha1.TrafficManual {
		if rc.Switch == nil {
			return evidence.Target{}, errors.New("region cutover with manual traffic needs a switch action")
		}
		if err := r.Switcher.Check(ctx, rc, m); err != nil {
			return evidence.Target{}, err
		}
		traffic = "manual: " + r.Switcher.Describe(rc.Switch)
	}
	if c := r.Scope.Cluster; c == "" || rc.To == c {
		if err := r.Checker.Survivor(ctx, rc.To); err != nil {
			return evidence.Target{}, err
		}
	}
	members, err := r.Cutover.Members(ctx, region.Region{Cutover: rc, Scope: r.Scope, Mark: m})
	if err != nil {
		return evidence.Target{}, err
	}
	method := rc.Method
	if method == "" {
		method = v1alpha1.CutoverDrain
	}
	lbls := map[string]string{LabelCutoverMethod: string(method), LabelCutoverTraffic: traffic}
	switch {
	case method == v1alpha1.CutoverScaleToZero && len(members.Workloads) == 0:
		return evidence.Target{}, fmt.Errorf("region %s has no Deployment or StatefulSet with replicas in %v to scale to zero", rc.From, r.Allowed)
	case method == v1alpha1.CutoverScaleToZero:
		lbls[LabelCutoverWorkloads] = strings.Join(members.Workloads, ",")
	case len(members.Nodes) == 0:
		return evidence.Target{}, fmt.Errorf("region %s has no schedulable node (label %s) to take down", rc.From, objects.LabelRegion)
	default:
		lbls[LabelCutoverNodes] = strings.Join(members.Nodes, ",")
	}
	return evidence.Target{Kind: evidence.KindRegion, Name: rc.From, Region: rc.From, Labels: lbls}, nil
}
