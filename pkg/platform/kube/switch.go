package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Target kinds of the objects a traffic switch rewrites. They are never
// targets of a fault; they show up in Marked (crash recovery).
const (
	// KindService is a Service whose selector a switch rewrote, named
	// namespace/name.
	KindService = "service"
	// KindHTTPRoute is a Gateway API HTTPRoute whose weights a switch
	// rewrote, named namespace/name.
	KindHTTPRoute = "httproute"
)

// Annotations of the switch objects, next to AnnotationRunID and
// AnnotationFault.
const (
	// AnnotationSelector holds the selector values a Service switch
	// replaced, as a JSON object of key to prior value (null: the key was
	// absent).
	AnnotationSelector = "firedrill.dev/selector"
	// AnnotationWeights holds the backend weights an HTTPRoute switch
	// replaced, as a JSON list of {rule, backend, service, weight}.
	AnnotationWeights = "firedrill.dev/weights"
)

// ErrGatewayAPIMissing is returned for an HTTPRoute switch on a cluster
// without the Gateway API CRDs.
var ErrGatewayAPIMissing = errors.New("the Gateway API CRDs (gateway.networking.k8s.io/v1 HTTPRoute) are not installed in the cluster; " +
	"install the standard channel (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/standard-install.yaml) or use another switch")

// errNoGatewayClient is returned when the platform's scheme lacks the
// Gateway API and there is no REST config to build a client from (a
// platform assembled from fakes).
var errNoGatewayClient = errors.New("no client for Gateway API objects: the platform's scheme does not register them")

// addGatewayAPI registers the Gateway API v1 kinds in a scheme.
func addGatewayAPI(s *runtime.Scheme) error {
	if err := gatewayv1.Install(s); err != nil {
		return fmt.Errorf("registering Gateway API types: %w", err)
	}
	return nil
}

// serviceSwitch is s with its defaults.
func (p *Platform) serviceSwitch(s *v1alpha1.ServiceSwitch) v1alpha1.ServiceSwitch {
	out := *s
	if out.Namespace == "" {
		out.Namespace = p.namespace
	}
	if out.SelectorKey == "" {
		out.SelectorKey = v1alpha1.DefaultSelectorKey
	}
	return out
}

// routeSwitch is h with its defaults.
func (p *Platform) routeSwitch(h *v1alpha1.HTTPRouteSwitch) v1alpha1.HTTPRouteSwitch {
	out := *h
	if out.Namespace == "" {
		out.Namespace = p.namespace
	}
	return out
}

// checkSwitch checks, before a cutover takes its region down, that its
// Service or HTTPRoute switch can work: the object exists in an allowed
// namespace, the selector has the key, the route has backends to move.
// An object this fault already switched passes.
func (p *Platform) checkSwitch(ctx context.Context, f platform.Fault) error {
	rc := f.Spec.RegionCutover
	m := mark{RunID: f.RunID, Fault: f.ID}
	switch sw := rc.Switch; {
	case sw.Service != nil:
		s := p.serviceSwitch(sw.Service)
		if err := p.namespaceAllowed(s.Namespace); err != nil {
			return fmt.Errorf("traffic switch Service %s/%s: %w", s.Namespace, s.Name, err)
		}
		svc, err := p.cs.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting traffic switch Service %s/%s: %w", s.Namespace, s.Name, err)
		}
		switch ownershipOf(svc.Annotations, m) {
		case foreign:
			o, _ := owner(svc.Annotations)
			return fmt.Errorf("traffic switch Service %s/%s is held by run %s (step %s); run drill cleanup if that run is dead", s.Namespace, s.Name, o.RunID, o.Fault)
		case unowned:
			if _, ok := svc.Spec.Selector[s.SelectorKey]; !ok {
				return fmt.Errorf("traffic switch Service %s/%s has no selector key %s for the switch to rewrite (selector %v)", s.Namespace, s.Name, s.SelectorKey, svc.Spec.Selector)
			}
		}
	case sw.HTTPRoute != nil:
		h := p.routeSwitch(sw.HTTPRoute)
		if err := p.namespaceAllowed(h.Namespace); err != nil {
			return fmt.Errorf("traffic switch HTTPRoute %s/%s: %w", h.Namespace, h.Name, err)
		}
		route, err := p.getRoute(ctx, h.Namespace, h.Name)
		if err != nil {
			return err
		}
		switch ownershipOf(route.Annotations, m) {
		case foreign:
			o, _ := owner(route.Annotations)
			return fmt.Errorf("traffic switch HTTPRoute %s/%s is held by run %s (step %s); run drill cleanup if that run is dead", h.Namespace, h.Name, o.RunID, o.Fault)
		case unowned:
			from, to, err := routeServices(&h, rc.From, rc.To)
			if err != nil {
				return err
			}
			if _, err := switchedWeights(route, from, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// switchService points the Service's selector key at region to, recording
// the prior value and the marks in the same patch. It reports whether it
// changed the Service.
func (p *Platform) switchService(ctx context.Context, s v1alpha1.ServiceSwitch, m mark, to string) (bool, error) {
	if err := p.namespaceAllowed(s.Namespace); err != nil {
		return false, fmt.Errorf("traffic switch Service %s/%s: %w", s.Namespace, s.Name, err)
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := p.cs.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting Service %s/%s: %w", s.Namespace, s.Name, err)
		}
		patch, err := selectorSwitchPatch(svc, s.SelectorKey, to, m)
		if err != nil || patch == nil {
			return err
		}
		if err := p.patchService(ctx, s.Namespace, s.Name, patch); err != nil {
			return fmt.Errorf("switching Service %s/%s selector %s to %s: %w", s.Namespace, s.Name, s.SelectorKey, to, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

// restoreService restores the selector values a switch of this fault
// recorded and removes the marks. A Service that is gone or not marked by
// this fault is left alone. It reports whether it changed the Service.
func (p *Platform) restoreService(ctx context.Context, namespace, name string, m mark) (bool, error) {
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := p.cs.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting Service %s/%s: %w", namespace, name, err)
		}
		if ownershipOf(svc.Annotations, m) != ours {
			return nil
		}
		patch, err := selectorRestorePatch(svc.Annotations, svc.ResourceVersion)
		if err != nil {
			return fmt.Errorf("restoring Service %s/%s: %w", namespace, name, err)
		}
		if err := p.patchService(ctx, namespace, name, patch); err != nil {
			return fmt.Errorf("restoring Service %s/%s selector: %w", namespace, name, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

func (p *Platform) patchService(ctx context.Context, namespace, name string, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	_, err = p.cs.CoreV1().Services(namespace).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// selectorSwitchPatch is the merge patch that points svc's selector key at
// to. An unmarked Service gets the marks and its prior value recorded; a
// Service this fault switched only gets its key set again, keeping the
// record. nil means nothing to do.
func selectorSwitchPatch(svc *corev1.Service, key, to string, m mark) (map[string]any, error) {
	name := svc.Namespace + "/" + svc.Name
	meta := map[string]any{"resourceVersion": svc.ResourceVersion}
	switch ownershipOf(svc.Annotations, m) {
	case foreign:
		o, _ := owner(svc.Annotations)
		return nil, fmt.Errorf("traffic switch Service %s is held by run %s (step %s); run drill cleanup if that run is dead", name, o.RunID, o.Fault)
	case ours:
		if v, ok := svc.Spec.Selector[key]; ok && v == to {
			return nil, nil
		}
	default:
		var prior *string
		if v, ok := svc.Spec.Selector[key]; ok {
			prior = &v
		}
		rec, err := json.Marshal(map[string]*string{key: prior})
		if err != nil {
			return nil, fmt.Errorf("encoding the selector record of Service %s: %w", name, err)
		}
		meta["annotations"] = map[string]any{
			AnnotationRunID:    m.RunID,
			AnnotationFault:    m.Fault,
			AnnotationSelector: string(rec),
		}
	}
	return map[string]any{"metadata": meta, "spec": map[string]any{"selector": map[string]any{key: to}}}, nil
}

// selectorRestorePatch restores the selector values recorded in a
// Service's annotations and removes the marks.
func selectorRestorePatch(annotations map[string]string, resourceVersion string) (map[string]any, error) {
	raw, ok := annotations[AnnotationSelector]
	if !ok {
		return nil, fmt.Errorf("annotation %s is missing: the prior selector is unknown", AnnotationSelector)
	}
	var rec map[string]*string
	if err := json.Unmarshal([]byte(raw), &rec); err != nil || len(rec) == 0 {
		return nil, fmt.Errorf("annotation %s=%q is not a selector record", AnnotationSelector, raw)
	}
	sel := map[string]any{}
	for k, v := range rec {
		if v == nil {
			sel[k] = nil // the key was absent
		} else {
			sel[k] = *v
		}
	}
	return unmarkPatch(AnnotationSelector, resourceVersion, map[string]any{"selector": sel}), nil
}

// gatewayClient is the platform's client when its scheme knows HTTPRoute
// (NewScheme registers the Gateway API); unit tests with a narrower fake
// client get errNoGatewayClient.
func (p *Platform) gatewayClient() (client.Client, error) {
	gvk := schema.GroupVersionKind{Group: gatewayv1.GroupVersion.Group, Version: gatewayv1.GroupVersion.Version, Kind: "HTTPRoute"}
	if p.client == nil || !p.client.Scheme().Recognizes(gvk) {
		return nil, errNoGatewayClient
	}
	return p.client, nil
}

// getRoute reads an HTTPRoute, naming the missing CRDs clearly.
func (p *Platform) getRoute(ctx context.Context, namespace, name string) (*gatewayv1.HTTPRoute, error) {
	c, err := p.gatewayClient()
	if err != nil {
		return nil, err
	}
	var route gatewayv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &route); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("getting HTTPRoute %s/%s at %s: %w (%w)", namespace, name, p.host(), ErrGatewayAPIMissing, err)
		}
		return nil, fmt.Errorf("getting HTTPRoute %s/%s: %w", namespace, name, err)
	}
	return &route, nil
}

// routeServices are the backend Services of the regions from and to.
func routeServices(h *v1alpha1.HTTPRouteSwitch, from, to string) (string, string, error) {
	var fromSvc, toSvc string
	for _, b := range h.Backends {
		switch b.Region {
		case from:
			fromSvc = b.Service
		case to:
			toSvc = b.Service
		}
	}
	if fromSvc == "" || toSvc == "" {
		return "", "", fmt.Errorf("traffic switch HTTPRoute %s/%s names no backend for region %s or %s", h.Namespace, h.Name, from, to)
	}
	return fromSvc, toSvc, nil
}

// switchRoute moves the weight of the lost region's backends of an
// HTTPRoute to the surviving region's, recording the prior weights and
// the marks in the same update. It reports whether it changed the route.
func (p *Platform) switchRoute(ctx context.Context, h v1alpha1.HTTPRouteSwitch, m mark, from, to string) (bool, error) {
	if err := p.namespaceAllowed(h.Namespace); err != nil {
		return false, fmt.Errorf("traffic switch HTTPRoute %s/%s: %w", h.Namespace, h.Name, err)
	}
	fromSvc, toSvc, err := routeServices(&h, from, to)
	if err != nil {
		return false, err
	}
	c, err := p.gatewayClient()
	if err != nil {
		return false, err
	}
	changed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := p.getRoute(ctx, h.Namespace, h.Name)
		if err != nil {
			return err
		}
		switch ownershipOf(route.Annotations, m) {
		case ours:
			return nil // switched by this fault already
		case foreign:
			o, _ := owner(route.Annotations)
			return fmt.Errorf("traffic switch HTTPRoute %s/%s is held by run %s (step %s); run drill cleanup if that run is dead", h.Namespace, h.Name, o.RunID, o.Fault)
		}
		orig := route.DeepCopy()
		prior, err := switchedWeights(route, fromSvc, toSvc)
		if err != nil {
			return err
		}
		rec, err := json.Marshal(prior)
		if err != nil {
			return fmt.Errorf("encoding the weights of HTTPRoute %s/%s: %w", h.Namespace, h.Name, err)
		}
		if route.Annotations == nil {
			route.Annotations = map[string]string{}
		}
		route.Annotations[AnnotationRunID], route.Annotations[AnnotationFault] = m.RunID, m.Fault
		route.Annotations[AnnotationWeights] = string(rec)
		if err := c.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}), client.FieldOwner(fieldManager)); err != nil {
			return fmt.Errorf("switching HTTPRoute %s/%s from %s to %s: %w", h.Namespace, h.Name, fromSvc, toSvc, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

// restoreRoute restores the weights a switch of this fault recorded on an
// HTTPRoute and removes the marks. A route that is gone, or not marked by
// this fault, or a cluster without the Gateway API, is left alone. It
// reports whether it changed the route.
func (p *Platform) restoreRoute(ctx context.Context, namespace, name string, m mark) (bool, error) {
	c, err := p.gatewayClient()
	if err != nil {
		return false, err
	}
	changed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := p.getRoute(ctx, namespace, name)
		if errors.Is(err, ErrGatewayAPIMissing) || apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if ownershipOf(route.Annotations, m) != ours {
			return nil
		}
		orig := route.DeepCopy()
		if err := restoreWeights(route); err != nil {
			return err
		}
		for _, k := range []string{AnnotationRunID, AnnotationFault, AnnotationWeights} {
			delete(route.Annotations, k)
		}
		if err := c.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}), client.FieldOwner(fieldManager)); err != nil {
			return fmt.Errorf("restoring the weights of HTTPRoute %s/%s: %w", namespace, name, err)
		}
		changed = true
		return nil
	})
	return changed, err
}

// weightRecord is the weight one backendRef of an HTTPRoute had before a
// switch.
type weightRecord struct {
	// Rule and Backend index spec.rules and its backendRefs.
	Rule    int `json:"rule"`
	Backend int `json:"backend"`
	// Service is the backendRef's name, checked on restore.
	Service string `json:"service"`
	// Weight is the prior weight; null when it was unset.
	Weight *int32 `json:"weight"`
}

// weightOf is a backendRef's weight; unset means 1, the API's default.
func weightOf(w *int32) int32 {
	if w == nil {
		return 1
	}
	return *w
}

// refersTo says whether a backendRef of a route in namespace ns is the
// Service svc.
func refersTo(ref *gatewayv1.BackendRef, ns, svc string) bool {
	if string(ref.Name) != svc {
		return false
	}
	if ref.Group != nil && *ref.Group != "" {
		return false
	}
	if ref.Kind != nil && *ref.Kind != "Service" {
		return false
	}
	return ref.Namespace == nil || string(*ref.Namespace) == ns
}

// switchedWeights sets, in every rule of route that sends traffic to
// fromSvc, the weight of fromSvc's backendRefs to 0 and adds the weight
// they had to toSvc's backendRefs of the rule (split evenly when there are
// several), so that the lost region's share moves to the surviving region
// and every other backend keeps its own. It returns the prior weights of
// the backendRefs it changed. A rule that sends traffic to fromSvc but
// has no backendRef to toSvc is an error: its traffic would be dropped.
func switchedWeights(route *gatewayv1.HTTPRoute, fromSvc, toSvc string) ([]weightRecord, error) {
	name := route.Namespace + "/" + route.Name
	var prior []weightRecord
	found := false
	for i := range route.Spec.Rules {
		refs := route.Spec.Rules[i].BackendRefs
		var lost int32
		var fromIdx, toIdx []int
		for j := range refs {
			switch r := &refs[j].BackendRef; {
			case refersTo(r, route.Namespace, fromSvc):
				fromIdx = append(fromIdx, j)
				lost += weightOf(r.Weight)
			case refersTo(r, route.Namespace, toSvc):
				toIdx = append(toIdx, j)
			}
		}
		if len(fromIdx) == 0 {
			continue
		}
		found = true
		if lost == 0 {
			continue // the rule sends the lost region nothing
		}
		if len(toIdx) == 0 {
			return nil, fmt.Errorf("traffic switch HTTPRoute %s: rule %d sends traffic to %s but has no backendRef to %s to take it over", name, i, fromSvc, toSvc)
		}
		for _, j := range fromIdx {
			r := &refs[j].BackendRef
			prior = append(prior, weightRecord{Rule: i, Backend: j, Service: fromSvc, Weight: copyWeight(r.Weight)})
			r.Weight = ptrInt32(0)
		}
		share, rest := lost/int32(len(toIdx)), lost%int32(len(toIdx))
		for k, j := range toIdx {
			r := &refs[j].BackendRef
			prior = append(prior, weightRecord{Rule: i, Backend: j, Service: toSvc, Weight: copyWeight(r.Weight)})
			add := share
			if k == 0 {
				add += rest
			}
			r.Weight = ptrInt32(weightOf(r.Weight) + add)
		}
	}
	if !found {
		return nil, fmt.Errorf("traffic switch HTTPRoute %s has no backendRef to Service %s", name, fromSvc)
	}
	sort.SliceStable(prior, func(a, b int) bool {
		if prior[a].Rule != prior[b].Rule {
			return prior[a].Rule < prior[b].Rule
		}
		return prior[a].Backend < prior[b].Backend
	})
	return prior, nil
}

// restoreWeights sets the weights recorded in a route's annotation back.
// A backendRef that moved or was renamed since the switch is an error
// naming the weights to restore by hand.
func restoreWeights(route *gatewayv1.HTTPRoute) error {
	name := route.Namespace + "/" + route.Name
	raw, ok := route.Annotations[AnnotationWeights]
	if !ok {
		return fmt.Errorf("restoring HTTPRoute %s: annotation %s is missing: the prior weights are unknown", name, AnnotationWeights)
	}
	var prior []weightRecord
	if err := json.Unmarshal([]byte(raw), &prior); err != nil {
		return fmt.Errorf("restoring HTTPRoute %s: annotation %s=%q is not a weight record: %w", name, AnnotationWeights, raw, err)
	}
	for _, w := range prior {
		if w.Rule < 0 || w.Rule >= len(route.Spec.Rules) || w.Backend < 0 || w.Backend >= len(route.Spec.Rules[w.Rule].BackendRefs) ||
			string(route.Spec.Rules[w.Rule].BackendRefs[w.Backend].Name) != w.Service {
			return fmt.Errorf("restoring HTTPRoute %s: it changed since the switch: rule %d backendRef %d is no longer Service %s; restore the weights by hand from annotation %s=%s",
				name, w.Rule, w.Backend, w.Service, AnnotationWeights, raw)
		}
	}
	for _, w := range prior {
		route.Spec.Rules[w.Rule].BackendRefs[w.Backend].Weight = copyWeight(w.Weight)
	}
	return nil
}

func copyWeight(w *int32) *int32 {
	if w == nil {
		return nil
	}
	return ptrInt32(*w)
}

func ptrInt32(v int32) *int32 { return &v }

// markedSwitches lists the Services and HTTPRoutes of the watched
// namespaces that carry a switch's marks (a markedKind). A cluster without
// the Gateway API has no routes to list.
func markedSwitches(ctx context.Context, p *Platform, mf markFilter) ([]MarkedObject, error) {
	match := mf.changed
	var out []MarkedObject
	var gc client.Client
	for _, ns := range p.watchedNamespaces() {
		svcs, err := p.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing services in %s: %w", ns, err)
		}
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if m, ok := match(s.Annotations); ok && s.Annotations[AnnotationSelector] != "" {
				out = append(out, MarkedObject{Target: platform.Target{Kind: KindService, Name: s.Namespace + "/" + s.Name}, RunID: m.RunID, Fault: m.Fault})
			}
		}
		if gc == nil {
			if gc, err = p.gatewayClient(); errors.Is(err, errNoGatewayClient) {
				continue // a fake platform without the Gateway API has no routes
			} else if err != nil {
				return nil, err
			}
		}
		var routes gatewayv1.HTTPRouteList
		if err := gc.List(ctx, &routes, client.InNamespace(ns)); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return nil, fmt.Errorf("listing HTTPRoutes in %s: %w", ns, err)
		}
		for i := range routes.Items {
			r := &routes.Items[i]
			if m, ok := match(r.Annotations); ok && r.Annotations[AnnotationWeights] != "" {
				out = append(out, MarkedObject{Target: platform.Target{Kind: KindHTTPRoute, Name: r.Namespace + "/" + r.Name}, RunID: m.RunID, Fault: m.Fault})
			}
		}
	}
	return out, nil
}

// restoreSwitch restores a Service or HTTPRoute that a switch of m
// rewrote, from its annotations.
func (p *Platform) restoreSwitch(ctx context.Context, t platform.Target, m mark) error {
	ns, name, err := splitKey(t.Name)
	if err != nil {
		return err
	}
	switch t.Kind {
	case KindService:
		_, err = p.restoreService(ctx, ns, name, m)
	case KindHTTPRoute:
		_, err = p.restoreRoute(ctx, ns, name, m)
	default:
		err = fmt.Errorf("target %s/%s is not a traffic switch object", t.Kind, t.Name)
	}
	return err
}
