package storeoutage

import (
	"context"
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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/pods"
	"github.com/firedrill/firedrill/pkg/platform/kube/workloads"
)

// labelNamespaceName is the label the API server puts on every namespace,
// holding its name.
const labelNamespaceName = "kubernetes.io/metadata.name"

// Cut is what a NetworkPolicy store outage cuts: the inference workloads
// whose pods lose the store, and the store they lose.
type Cut struct {
	// Inference are the workloads whose pods are cut off, with their pod
	// selectors.
	Inference []Selected
	// Store is the model store workload.
	Store Selected
	// StoreIPs are the store pods' current IPs.
	StoreIPs []string
}

// Selected is a workload and its pod selector.
type Selected struct {
	// Ref names the workload.
	Ref v1alpha1.WorkloadRef
	// Selector is its pod selector.
	Selector *metav1.LabelSelector
}

// netpolName is the name of the NetworkPolicy that cuts one inference
// workload off the store: firedrill-<run>-<step>-<workload>, shortened
// with a hash when longer than 63 characters.
func netpolName(m marks.Mark, workload string) string {
	return objects.ShortName("firedrill-"+m.RunID+"-"+m.Fault+"-"+workload, 63)
}

// BuildNetpols builds one NetworkPolicy per inference workload that
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
func BuildNetpols(m marks.Mark, cut Cut) ([]*networkingv1.NetworkPolicy, error) {
	if len(cut.Inference) == 0 {
		return nil, errors.New("no inference workloads to cut off the store: spec.system.workloads is empty or none runs in the outage's region")
	}
	peers, err := notStorePeers(cut.Store)
	if err != nil {
		return nil, err
	}
	ipPeers := ipBlockPeers(cut.StoreIPs)
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns := intstr.FromInt32(53)
	out := make([]*networkingv1.NetworkPolicy, 0, len(cut.Inference))
	for _, w := range cut.Inference {
		if w.Selector == nil {
			return nil, fmt.Errorf("%s has no pod selector", objects.WorkloadName(w.Ref))
		}
		np := &networkingv1.NetworkPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{
				Name: netpolName(m, w.Ref.Name), Namespace: w.Ref.Namespace,
				Annotations: map[string]string{marks.AnnotationStore: objects.WorkloadName(cut.Store.Ref)},
			},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: *w.Selector.DeepCopy(),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{To: append(slices.Clone(peers), ipPeers...)},
					{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}},
				},
			},
		}
		marks.Created(np, m)
		out = append(out, np)
	}
	return out, nil
}

// notStorePeers are the peers that match every pod but the store's: pods
// of other namespaces, and pods of the store's namespace failing one of
// the store selector's requirements.
func notStorePeers(store Selected) ([]networkingv1.NetworkPolicyPeer, error) {
	ns := store.Ref.Namespace
	out := []networkingv1.NetworkPolicyPeer{{
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: labelNamespaceName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{ns}},
		}},
	}}
	reqs, err := requirementsOf(store.Selector)
	if err != nil {
		return nil, fmt.Errorf("the selector of %s: %w", objects.WorkloadName(store.Ref), err)
	}
	for _, r := range reqs {
		neg, err := negate(r)
		if err != nil {
			return nil, fmt.Errorf("the selector of %s: %w", objects.WorkloadName(store.Ref), err)
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

// netpolOutage creates the NetworkPolicies that cut the inference pods off
// the store. A policy this fault created already is left as it is; one of
// the same name created by anything else is an error.
func (o Outage) netpolOutage(ctx context.Context, out *v1alpha1.ModelStoreOutage, store v1alpha1.WorkloadRef, m marks.Mark, obs Observer) error {
	c, err := o.cut(ctx, out.Region, store, obs)
	if err != nil {
		return err
	}
	nps, err := BuildNetpols(m, c)
	if err != nil {
		return err
	}
	var names []string
	for _, np := range nps {
		name := "NetworkPolicy/" + np.Namespace + "/" + np.Name
		if err := objects.NamespaceAllowed(o.Allowed, np.Namespace); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		err := o.Client.Create(ctx, np)
		if apierrors.IsAlreadyExists(err) {
			var got networkingv1.NetworkPolicy
			if gerr := o.Client.Get(ctx, client.ObjectKeyFromObject(np), &got); gerr != nil {
				return fmt.Errorf("reading %s: %w", name, gerr)
			}
			if !marks.CreatedBy(&got, m) {
				return fmt.Errorf("%s exists but was not created by run %s step %s", name, m.RunID, m.Fault)
			}
			err = nil
		} else if err == nil {
			obs.TookEffect()
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		names = append(names, name)
	}
	obs.Note(fmt.Sprintf("%s deny egress to %s (enforced only by a network plugin that implements NetworkPolicy)",
		strings.Join(names, ", "), objects.WorkloadName(store)))
	return nil
}

// cut resolves the workloads a NetworkPolicy outage cuts off and the
// store's pods. With a region, only the workloads whose pods run in that
// region are cut off; a workload with pods in that region and in others is
// refused, since a NetworkPolicy selects pods by label, not by node. obs,
// when set, hears about inference workloads that do not exist.
func (o Outage) cut(ctx context.Context, region string, store v1alpha1.WorkloadRef, obs Observer) (Cut, error) {
	sw, err := workloads.Get(ctx, o.Client, store)
	if err != nil {
		return Cut{}, fmt.Errorf("getting %s: %w", objects.WorkloadName(store), err)
	}
	out := Cut{Store: Selected{Ref: store, Selector: sw.Selector}}
	storeSel, err := objects.SelectorOf(sw.Selector)
	if err != nil {
		return Cut{}, fmt.Errorf("the selector of %s: %w", objects.WorkloadName(store), err)
	}
	var storePods corev1.PodList
	if err := o.Client.List(ctx, &storePods, client.InNamespace(store.Namespace), client.MatchingLabelsSelector{Selector: storeSel}); err != nil {
		return Cut{}, fmt.Errorf("listing pods of %s: %w", objects.WorkloadName(store), err)
	}
	for i := range storePods.Items {
		for _, ip := range storePods.Items[i].Status.PodIPs {
			out.StoreIPs = append(out.StoreIPs, ip.IP)
		}
		if len(storePods.Items[i].Status.PodIPs) == 0 && storePods.Items[i].Status.PodIP != "" {
			out.StoreIPs = append(out.StoreIPs, storePods.Items[i].Status.PodIP)
		}
	}
	var nodes map[string]*corev1.Node
	if region != "" {
		if nodes, err = pods.NodesByName(ctx, o.Client); err != nil {
			return Cut{}, err
		}
	}
	for _, r := range o.System.Workloads {
		r = objects.DefaultRef(r, o.Namespace)
		if r.Kind != v1alpha1.WorkloadDeployment && r.Kind != v1alpha1.WorkloadStatefulSet {
			continue
		}
		w, err := workloads.Get(ctx, o.Client, r)
		if apierrors.IsNotFound(err) {
			if obs != nil {
				obs.Note(objects.WorkloadName(r) + " does not exist; no NetworkPolicy for it")
			}
			continue
		}
		if err != nil {
			return Cut{}, fmt.Errorf("getting %s: %w", objects.WorkloadName(r), err)
		}
		if region != "" {
			in, err := o.inRegion(ctx, r, w, region, nodes)
			if err != nil {
				return Cut{}, err
			}
			if !in {
				continue
			}
		}
		out.Inference = append(out.Inference, Selected{Ref: r, Selector: w.Selector})
	}
	return out, nil
}

// inRegion says whether a workload's pods run in region: from the region
// its pod template is pinned to, else from the nodes of its pods.
func (o Outage) inRegion(ctx context.Context, ref v1alpha1.WorkloadRef, w workloads.Workload, region string, nodes map[string]*corev1.Node) (bool, error) {
	if pinned := w.Template.Spec.NodeSelector[objects.LabelRegion]; pinned != "" {
		return pinned == region, nil
	}
	sel, err := objects.SelectorOf(w.Selector)
	if err != nil {
		return false, err
	}
	var list corev1.PodList
	if err := o.Client.List(ctx, &list, client.InNamespace(ref.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return false, fmt.Errorf("listing pods of %s: %w", objects.WorkloadName(ref), err)
	}
	var in, out []string
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Spec.NodeName == "" {
			continue
		}
		if o.Scope.NodeRegion(nodes[pod.Spec.NodeName]) == region {
			in = append(in, pod.Name)
		} else {
			out = append(out, pod.Name)
		}
	}
	if len(in) > 0 && len(out) > 0 {
		return false, fmt.Errorf("%s runs pods in region %s (%s) and elsewhere (%s): a NetworkPolicy selects pods by label, not by node, "+
			"so the outage cannot be limited to region %s; pin the workload to a region or drop modelStoreOutage.region",
			objects.WorkloadName(ref), region, strings.Join(in, ", "), strings.Join(out, ", "), region)
	}
	return len(in) > 0, nil
}

// deleteNetpols deletes the NetworkPolicies fault m created, in every
// watched namespace.
func (o Outage) deleteNetpols(ctx context.Context, m marks.Mark) error {
	held, err := o.Marked(ctx, marks.Filter{RunID: m.RunID, FaultID: m.Fault})
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range held {
		if err := o.DeleteNetpol(ctx, h.Target.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Marked lists the NetworkPolicies of the watched namespaces that
// firedrill created and filter matches.
func (o Outage) Marked(ctx context.Context, filter marks.Filter) ([]marks.Object, error) {
	var out []marks.Object
	for _, ns := range o.Namespaces {
		var list networkingv1.NetworkPolicyList
		if err := o.Client.List(ctx, &list, client.InNamespace(ns), client.HasLabels{marks.LabelRunID}); err != nil {
			return nil, fmt.Errorf("listing networkpolicies in %s: %w", ns, err)
		}
		for i := range list.Items {
			if m, ok := filter.Created(&list.Items[i]); ok {
				out = append(out, m.On(evidence.Target{Kind: marks.KindNetworkPolicy, Name: list.Items[i].Namespace + "/" + list.Items[i].Name}))
			}
		}
	}
	return out, nil
}

// DeleteNetpol deletes the NetworkPolicy namespace/name; one already gone
// is fine.
func (o Outage) DeleteNetpol(ctx context.Context, key string) error {
	ns, name, err := objects.SplitKey(key)
	if err != nil {
		return err
	}
	err = o.Client.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting NetworkPolicy %s: %w", key, err)
	}
	return nil
}
