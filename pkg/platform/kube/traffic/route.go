package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// ErrGatewayAPIMissing is returned for an HTTPRoute switch on a cluster
// without the Gateway API CRDs.
var ErrGatewayAPIMissing = errors.New("the Gateway API CRDs (gateway.networking.k8s.io/v1 HTTPRoute) are not installed in the cluster; " +
	"install the standard channel (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/standard-install.yaml) or use another switch")

// routeSwitch is h with its defaults.
func (s Switcher) routeSwitch(h *v1alpha1.HTTPRouteSwitch) v1alpha1.HTTPRouteSwitch {
	out := *h
	if out.Namespace == "" {
		out.Namespace = s.Namespace
	}
	return out
}

// checkRoute checks an HTTPRoute switch can work: the route exists in an
// allowed namespace and has backends to move from region from to region
// to (or this fault switched it already).
func (s Switcher) checkRoute(ctx context.Context, h v1alpha1.HTTPRouteSwitch, m *marks.Mark, from, to string) error {
	if err := objects.NamespaceAllowed(s.Allowed, h.Namespace); err != nil {
		return fmt.Errorf("traffic switch HTTPRoute %s/%s: %w", h.Namespace, h.Name, err)
	}
	route, err := s.getRoute(ctx, h.Namespace, h.Name)
	if err != nil {
		return err
	}
	switch ownership(route.Annotations, m) {
	case marks.Foreign:
		return marks.HeldError(fmt.Sprintf("traffic switch HTTPRoute %s/%s", h.Namespace, h.Name), route.Annotations)
	case marks.Unowned:
		fromSvc, toSvc, err := routeServices(&h, from, to)
		if err != nil {
			return err
		}
		if _, err := switchedWeights(route, fromSvc, toSvc); err != nil {
			return err
		}
	}
	return nil
}

// getRoute reads an HTTPRoute, naming the missing CRDs clearly.
func (s Switcher) getRoute(ctx context.Context, namespace, name string) (*gatewayv1.HTTPRoute, error) {
	var route gatewayv1.HTTPRoute
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &route); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("getting HTTPRoute %s/%s at %s: %w (%w)", namespace, name, s.Host, ErrGatewayAPIMissing, err)
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
func (s Switcher) switchRoute(ctx context.Context, h v1alpha1.HTTPRouteSwitch, m marks.Mark, from, to string) (bool, error) {
	if err := objects.NamespaceAllowed(s.Allowed, h.Namespace); err != nil {
		return false, fmt.Errorf("traffic switch HTTPRoute %s/%s: %w", h.Namespace, h.Name, err)
	}
	fromSvc, toSvc, err := routeServices(&h, from, to)
	if err != nil {
		return false, err
	}
	changed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := s.getRoute(ctx, h.Namespace, h.Name)
		if err != nil {
			return err
		}
		switch marks.OwnershipOf(route.Annotations, m) {
		case marks.Ours:
			return nil // switched by this fault already
		case marks.Foreign:
			return marks.HeldError(fmt.Sprintf("traffic switch HTTPRoute %s/%s", h.Namespace, h.Name), route.Annotations)
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
		maps.Copy(route.Annotations, m.Annotations())
		route.Annotations[marks.AnnotationWeights] = string(rec)
		if err := s.Client.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
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
func (s Switcher) restoreRoute(ctx context.Context, namespace, name string, m marks.Mark) (bool, error) {
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := s.getRoute(ctx, namespace, name)
		if errors.Is(err, ErrGatewayAPIMissing) || apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if marks.OwnershipOf(route.Annotations, m) != marks.Ours {
			return nil
		}
		orig := route.DeepCopy()
		if err := restoreWeights(route); err != nil {
			return err
		}
		for _, k := range append(slices.Clone(marks.Keys), marks.AnnotationWeights) {
			delete(route.Annotations, k)
		}
		if err := s.Client.Patch(ctx, route, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
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
	raw, ok := route.Annotations[marks.AnnotationWeights]
	if !ok {
		return fmt.Errorf("restoring HTTPRoute %s: annotation %s is missing: the prior weights are unknown", name, marks.AnnotationWeights)
	}
	var prior []weightRecord
	if err := json.Unmarshal([]byte(raw), &prior); err != nil {
		return fmt.Errorf("restoring HTTPRoute %s: annotation %s=%q is not a weight record: %w", name, marks.AnnotationWeights, raw, err)
	}
	for _, w := range prior {
		if w.Rule < 0 || w.Rule >= len(route.Spec.Rules) || w.Backend < 0 || w.Backend >= len(route.Spec.Rules[w.Rule].BackendRefs) ||
			string(route.Spec.Rules[w.Rule].BackendRefs[w.Backend].Name) != w.Service {
			return fmt.Errorf("restoring HTTPRoute %s: it changed since the switch: rule %d backendRef %d is no longer Service %s; restore the weights by hand from annotation %s=%s",
				name, w.Rule, w.Backend, w.Service, marks.AnnotationWeights, raw)
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
