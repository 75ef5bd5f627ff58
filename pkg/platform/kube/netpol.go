package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// KindNetworkPolicy is a NetworkPolicy firedrill created, named
// namespace/name. Marked returns them; the target of a networkPolicy store
// outage is the store (KindStore).
const KindNetworkPolicy = "networkpolicy"

// labelNamespaceName is the label the API server puts on every namespace,
// holding its name.
const labelNamespaceName = "kubernetes.io/metadata.name"

// storeCut is what a NetworkPolicy store outage cuts: the inference
// workloads whose pods lose the store, and the store they lose.
type storeCut struct {
	// inference are the workloads whose pods are cut off, with their pod
	// selectors.
	inference []selectedWorkload
	// store is the model store workload.
	store selectedWorkload
	// storeIPs are the store pods' current IPs.
	storeIPs []string
}

// selectedWorkload is a workload and its pod selector.
type selectedWorkload struct {
	ref      v1alpha1.WorkloadRef
	selector *metav1.LabelSelector
}

// netpolName is the name of the NetworkPolicy that cuts one inference
// workload off the store: firedrill-<run>-<step>-<workload>, shortened
// with a hash when longer than 63 characters.
func netpolName(f platform.Fault, workload string) string {
	return shortName("firedrill-"+f.RunID+"-"+f.ID+"-"+workload, 63)
}

// shortName makes s a DNS label of at most max characters; a longer one
// is cut and ends with a hash of the whole, so that names stay distinct.
func shortName(s string, limit int) string {
	n := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) <= limit {
		return n
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:8]
	return strings.Trim(n[:limit-len(h)-1], "-") + "-" + h
}

// buildStoreNetpols builds one NetworkPolicy per inference workload that
// lets its pods reach everything but the store's pods. NetworkPolicies
// only allow: a pod selected by a policy with policyType Egress may send
// only what some rule allows, so the rules list everything else:
//
//   - pods in every namespace but the store's;
//   - pods in the store's namespace that the store's selector does not
//     select (one peer per requirement of the selector, negated: a pod
//     is not the store's when it fails any one of them);
//   - DNS (port 53) anywhere, so that names still resolve;
//   - every IP address (destinations outside the cluster) except the
//     store pods' current IPs. Whether ipBlock applies to pod IPs is left
//     to the network plugin; where it does, the exception keeps the store
//     cut off.
//
// Other NetworkPolicies that select the same pods and allow egress to the
// store win: policies add up, none can deny what another allows.
func buildStoreNetpols(f platform.Fault, cut storeCut) ([]*networkingv1.NetworkPolicy, error) {
	if len(cut.inference) == 0 {
		return nil, errors.New("no inference workloads to cut off the store: spec.system.workloads is empty or none runs in the outage's region")
	}
	peers, err := notStorePeers(cut.store)
	if err != nil {
		return nil, err
	}
	ipPeers := ipBlockPeers(cut.storeIPs)
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns := intstr.FromInt32(53)
	m := mark{RunID: f.RunID, Fault: f.ID}
	out := make([]*networkingv1.NetworkPolicy, 0, len(cut.inference))
	for _, w := range cut.inference {
		if w.selector == nil {
			return nil, fmt.Errorf("%s has no pod selector", workloadName(w.ref))
		}
		np := &networkingv1.NetworkPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{
				Name: netpolName(f, w.ref.Name), Namespace: w.ref.Namespace,
				Annotations: map[string]string{AnnotationStore: workloadName(cut.store.ref)},
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: *w.selector.DeepCopy(),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{To: append(slices.Clone(peers), ipPeers...)},
					{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}},
				},
			},
		}
		markCreated(np, m)
		out = append(out, np)
	}
	return out, nil
}

// notStorePeers are the peers that match every pod but the store's: pods
// of other namespaces, and pods of the store's namespace failing one of
// the store selector's requirements.
func notStorePeers(store selectedWorkload) ([]networkingv1.NetworkPolicyPeer, error) {
	ns := store.ref.Namespace
	out := []networkingv1.NetworkPolicyPeer{{
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: labelNamespaceName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{ns}},
		}},
	}}
	reqs, err := requirementsOf(store.selector)
	if err != nil {
		return nil, fmt.Errorf("the selector of %s: %w", workloadName(store.ref), err)
	}
	for _, r := range reqs {
		neg, err := negate(r)
		if err != nil {
			return nil, fmt.Errorf("the selector of %s: %w", workloadName(store.ref), err)
		}
		out = append(out, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelNamespaceName: ns}},
			PodSelector:       &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{neg}},
		})
	}
	return out, nil
}

// requirementsOf lists a selector's matchLabels and matchExpressions as
// requirements, in a stable order. A selector with none selects every pod,
// and the store would be the whole namespace: that is refused.
func requirementsOf(ls *metav1.LabelSelector) ([]metav1.LabelSelectorRequirement, error) {
	if ls == nil {
		return nil, errors.New("it is empty and selects every pod of its namespace")
	}
	var out []metav1.LabelSelectorRequirement
	keys := make([]string, 0, len(ls.MatchLabels))
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{ls.MatchLabels[k]}})
	}
	out = append(out, ls.MatchExpressions...)
	if len(out) == 0 {
		return nil, errors.New("it is empty and selects every pod of its namespace")
	}
	return out, nil
}

// negate returns the requirement a label set meets exactly when it does
// not meet r.
func negate(r metav1.LabelSelectorRequirement) (metav1.LabelSelectorRequirement, error) {
	n := metav1.LabelSelectorRequirement{Key: r.Key, Values: slices.Clone(r.Values)}
	switch r.Operator {
	case metav1.LabelSelectorOpIn:
		n.Operator = metav1.LabelSelectorOpNotIn
	case metav1.LabelSelectorOpNotIn:
		n.Operator = metav1.LabelSelectorOpIn
	case metav1.LabelSelectorOpExists:
		n.Operator, n.Values = metav1.LabelSelectorOpDoesNotExist, nil
	case metav1.LabelSelectorOpDoesNotExist:
		n.Operator, n.Values = metav1.LabelSelectorOpExists, nil
	default:
		return n, fmt.Errorf("unknown operator %q", r.Operator)
	}
	return n, nil
}

// ipBlockPeers allow every IPv4 and IPv6 address but the given ones.
func ipBlockPeers(ips []string) []networkingv1.NetworkPolicyPeer {
	var v4, v6 []string
	for _, s := range ips {
		ip := net.ParseIP(s)
		switch {
		case ip == nil:
		case ip.To4() != nil:
			v4 = append(v4, ip.String()+"/32")
		default:
			v6 = append(v6, ip.String()+"/128")
		}
	}
	slices.Sort(v4)
	slices.Sort(v6)
	return []networkingv1.NetworkPolicyPeer{
		{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: slices.Compact(v4)}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: slices.Compact(v6)}},
	}
}

// storeNetpolOutage creates the NetworkPolicies that cut the inference
// pods off the store. A policy this fault created already is left as it
// is; one of the same name created by anything else is an error.
func (p *Platform) storeNetpolOutage(ctx context.Context, f platform.Fault, store v1alpha1.WorkloadRef) error {
	cut, err := p.storeCut(ctx, f, store)
	if err != nil {
		return err
	}
	nps, err := buildStoreNetpols(f, cut)
	if err != nil {
		return err
	}
	m := mark{RunID: f.RunID, Fault: f.ID}
	var names []string
	for _, np := range nps {
		name := "NetworkPolicy/" + np.Namespace + "/" + np.Name
		if err := p.namespaceAllowed(np.Namespace); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		_, err := p.cs.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, np, metav1.CreateOptions{FieldManager: fieldManager})
		if apierrors.IsAlreadyExists(err) {
			got, gerr := p.cs.NetworkingV1().NetworkPolicies(np.Namespace).Get(ctx, np.Name, metav1.GetOptions{})
			if gerr != nil {
				return fmt.Errorf("reading %s: %w", name, gerr)
			}
			if !createdBy(got, m) {
				return fmt.Errorf("%s exists but was not created by run %s step %s", name, f.RunID, f.ID)
			}
			err = nil
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		names = append(names, name)
	}
	p.note(f.ID, "%s deny egress to %s (enforced only by a network plugin that implements NetworkPolicy)",
		strings.Join(names, ", "), workloadName(store))
	return nil
}

// storeCut resolves the workloads a NetworkPolicy outage cuts off and the
// store's pods. With a region, only the workloads whose pods run in that
// region are cut off; a workload with pods in that region and in others is
// refused, since a NetworkPolicy selects pods by label, not by node.
func (p *Platform) storeCut(ctx context.Context, f platform.Fault, store v1alpha1.WorkloadRef) (storeCut, error) {
	region := f.Spec.ModelStoreOutage.Region
	sw, err := p.getWorkload(ctx, store)
	if err != nil {
		return storeCut{}, fmt.Errorf("getting %s: %w", workloadName(store), err)
	}
	cut := storeCut{store: selectedWorkload{ref: store, selector: sw.selector}}
	storeSel, err := selectorOf(sw.selector)
	if err != nil {
		return storeCut{}, fmt.Errorf("the selector of %s: %w", workloadName(store), err)
	}
	pods, err := p.cs.CoreV1().Pods(store.Namespace).List(ctx, metav1.ListOptions{LabelSelector: storeSel.String()})
	if err != nil {
		return storeCut{}, fmt.Errorf("listing pods of %s: %w", workloadName(store), err)
	}
	for i := range pods.Items {
		for _, ip := range pods.Items[i].Status.PodIPs {
			cut.storeIPs = append(cut.storeIPs, ip.IP)
		}
		if len(pods.Items[i].Status.PodIPs) == 0 && pods.Items[i].Status.PodIP != "" {
			cut.storeIPs = append(cut.storeIPs, pods.Items[i].Status.PodIP)
		}
	}
	var nodes map[string]*corev1.Node
	if region != "" {
		if nodes, err = p.nodesByName(ctx); err != nil {
			return storeCut{}, err
		}
	}
	for _, r := range p.spec.System.Workloads {
		if r.Kind == "" {
			r.Kind = v1alpha1.WorkloadDeployment
		}
		if r.Namespace == "" {
			r.Namespace = p.namespace
		}
		if r.Kind != v1alpha1.WorkloadDeployment && r.Kind != v1alpha1.WorkloadStatefulSet {
			continue
		}
		w, err := p.getWorkload(ctx, r)
		if apierrors.IsNotFound(err) {
			p.note(f.ID, "%s does not exist; no NetworkPolicy for it", workloadName(r))
			continue
		}
		if err != nil {
			return storeCut{}, fmt.Errorf("getting %s: %w", workloadName(r), err)
		}
		if region != "" {
			in, err := p.workloadInRegion(ctx, r, w, region, nodes)
			if err != nil {
				return storeCut{}, err
			}
			if !in {
				continue
			}
		}
		cut.inference = append(cut.inference, selectedWorkload{ref: r, selector: w.selector})
	}
	return cut, nil
}

// workloadInRegion says whether a workload's pods run in region: from the
// region its pod template is pinned to, else from the nodes of its pods.
func (p *Platform) workloadInRegion(ctx context.Context, ref v1alpha1.WorkloadRef, w scalable, region string, nodes map[string]*corev1.Node) (bool, error) {
	if pinned := w.template.Spec.NodeSelector[LabelRegion]; pinned != "" {
		return pinned == region, nil
	}
	sel, err := selectorOf(w.selector)
	if err != nil {
		return false, err
	}
	pods, err := p.cs.CoreV1().Pods(ref.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return false, fmt.Errorf("listing pods of %s: %w", workloadName(ref), err)
	}
	var in, out []string
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Spec.NodeName == "" {
			continue
		}
		if regionOfNode(nodes[pod.Spec.NodeName]) == region {
			in = append(in, pod.Name)
		} else {
			out = append(out, pod.Name)
		}
	}
	if len(in) > 0 && len(out) > 0 {
		return false, fmt.Errorf("%s runs pods in region %s (%s) and elsewhere (%s): a NetworkPolicy selects pods by label, not by node, "+
			"so the outage cannot be limited to region %s; pin the workload to a region or drop modelStoreOutage.region",
			workloadName(ref), region, strings.Join(in, ", "), strings.Join(out, ", "), region)
	}
	return len(in) > 0, nil
}

// deleteStoreNetpols deletes the NetworkPolicies fault m created, in every
// namespace the platform watches.
func (p *Platform) deleteStoreNetpols(ctx context.Context, m mark) error {
	var errs []error
	for _, ns := range p.watchedNamespaces() {
		nps, err := p.listMarkedNetpols(ctx, ns)
		if err != nil {
			return err
		}
		for i := range nps {
			if !createdBy(&nps[i], m) {
				continue
			}
			if err := p.deleteNetpol(ctx, nps[i].Namespace+"/"+nps[i].Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// listMarkedNetpols lists the NetworkPolicies firedrill created in ns.
func (p *Platform) listMarkedNetpols(ctx context.Context, ns string) ([]networkingv1.NetworkPolicy, error) {
	l, err := p.cs.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelRunID})
	if err != nil {
		return nil, fmt.Errorf("listing networkpolicies in %s: %w", ns, err)
	}
	return l.Items, nil
}

// deleteNetpol deletes the NetworkPolicy namespace/name; one already gone
// is fine.
func (p *Platform) deleteNetpol(ctx context.Context, key string) error {
	ns, name, err := splitKey(key)
	if err != nil {
		return err
	}
	err = p.cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting NetworkPolicy %s: %w", key, err)
	}
	return nil
}
