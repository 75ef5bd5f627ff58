package kube

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Target kinds of this platform.
const (
	// KindPod is a pod, named namespace/name.
	KindPod = "pod"
	// KindNode is a node, named by its name.
	KindNode = "node"
	// KindWorkload is a Deployment or StatefulSet a cutover scales to
	// zero, named Kind/namespace/name.
	KindWorkload = "workload"
	// KindStore is the model store workload, named Kind/namespace/name.
	KindStore = "store"
	// KindChaos is a Chaos Mesh object, named Kind/namespace/name.
	KindChaos = "chaos"
)

// Targets implements platform.Platform. It reads the cluster live, so a
// dry run shows what a run would touch now.
func (p *Platform) Targets(ctx context.Context, f platform.Fault) ([]platform.Target, error) {
	s := f.Spec
	switch {
	case s.PodKill != nil:
		return p.podTargets(ctx, s.PodKill)
	case s.NodeDrain != nil:
		nd := s.NodeDrain
		return p.nodeTargets(ctx, nd.Selector, nd.Region, nd.GPUOnly, mark{RunID: f.RunID, Fault: f.ID})
	case s.RegionCutover != nil:
		return p.cutoverTargets(ctx, f)
	case s.ModelStoreOutage != nil:
		ref, err := p.storeRef()
		if err != nil {
			return nil, err
		}
		if err := p.checkOutageMode(ctx, s.ModelStoreOutage); err != nil {
			return nil, err
		}
		return []platform.Target{{Kind: KindStore, Name: workloadName(ref), Region: s.ModelStoreOutage.Region}}, nil
	case s.ChaosMesh != nil:
		if err := p.checkChaosMesh(ctx, s.ChaosMesh.Kind); err != nil {
			return nil, err
		}
		return []platform.Target{{Kind: KindChaos, Name: string(s.ChaosMesh.Kind) + "/" + p.namespace + "/" + chaosName(f)}}, nil
	}
	return nil, fmt.Errorf("step %s: %w", f.ID, platform.ErrUnsupported)
}

func selectorOf(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Everything(), nil
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("invalid selector: %w", err)
	}
	return s, nil
}

// nodesByName lists every node.
func (p *Platform) nodesByName(ctx context.Context) (map[string]*corev1.Node, error) {
	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	out := make(map[string]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		out[nodes.Items[i].Name] = &nodes.Items[i]
	}
	return out, nil
}

func (p *Platform) podTargets(ctx context.Context, pk *v1alpha1.PodKill) ([]platform.Target, error) {
	ns := pk.Namespace
	if ns == "" {
		ns = p.namespace
	}
	if err := p.namespaceAllowed(ns); err != nil {
		return nil, err
	}
	sel, err := selectorOf(pk.Selector)
	if err != nil {
		return nil, err
	}
	pods, err := p.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, err)
	}
	nodes, err := p.nodesByName(ctx)
	if err != nil {
		return nil, err
	}
	filter := podFilter{selector: sel, region: pk.Region, gpuOnly: pk.GPUOnly}
	var out []platform.Target
	for i := range pods.Items {
		pod := &pods.Items[i]
		node := nodes[pod.Spec.NodeName]
		if !filter.matches(pod, node) {
			continue
		}
		out = append(out, platform.Target{Kind: KindPod, Name: podKey(pod), Region: regionOfNode(node), Labels: pod.Labels})
	}
	return out, nil
}

func (p *Platform) nodeTargets(ctx context.Context, ls *metav1.LabelSelector, region string, gpuOnly bool, m mark) ([]platform.Target, error) {
	sel, err := selectorOf(ls)
	if err != nil {
		return nil, err
	}
	nodes, err := p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	filter := nodeFilter{selector: sel, region: region, gpuOnly: gpuOnly}
	var out []platform.Target
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if filter.matches(n, m) {
			out = append(out, platform.Target{Kind: KindNode, Name: n.Name, Region: regionOfNode(n), Labels: n.Labels})
		}
	}
	return out, nil
}

// parseWorkload reads a Kind/namespace/name target name.
func parseWorkload(name string) (v1alpha1.WorkloadRef, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return v1alpha1.WorkloadRef{}, fmt.Errorf("workload %q is not Kind/namespace/name", name)
	}
	kind := v1alpha1.WorkloadKind(parts[0])
	if kind != v1alpha1.WorkloadDeployment && kind != v1alpha1.WorkloadStatefulSet {
		return v1alpha1.WorkloadRef{}, fmt.Errorf("workload %q: kind %s cannot be scaled", name, kind)
	}
	return v1alpha1.WorkloadRef{Kind: kind, Namespace: parts[1], Name: parts[2]}, nil
}

// splitKey reads a namespace/name target name.
func splitKey(name string) (string, string, error) {
	ns, n, ok := strings.Cut(name, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("%q is not namespace/name", name)
	}
	return ns, n, nil
}

var (
	nonDNS   = regexp.MustCompile(`[^a-z0-9-]+`)
	nonLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// chaosName is the name of the Chaos Mesh object of a fault: stable for
// the run and step so that a repeated inject finds it.
func chaosName(f platform.Fault) string {
	n := nonDNS.ReplaceAllString(strings.ToLower("firedrill-"+f.RunID+"-"+f.ID), "-")
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.Trim(n, "-")
}
