package traffic

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Phase is the direction of a switch.
type Phase string

// Phases of a traffic switch.
const (
	// Inject moves traffic away from the lost region.
	Inject Phase = "inject"
	// Revert moves it back (the fail-back).
	Revert Phase = "revert"
)

// Switcher moves a cutover's traffic with the plan's switch.
type Switcher struct {
	// Client reads live and patches Services and HTTPRoutes.
	Client client.Client
	// Actions runs command and webhook switches.
	Actions *action.Runner
	// Clock times the switch.
	Clock clock.PassiveClock
	// Namespace is where switch objects without a namespace live (the
	// target namespace).
	Namespace string
	// Allowed are the namespaces faults may touch (safety.namespaces).
	Allowed []string
	// Host names the cluster in errors.
	Host string
}

// Result is what one switch did.
type Result struct {
	// Phase is the direction.
	Phase Phase
	// From and To are the regions traffic moved from and to.
	From, To string
	// By says how: "Service recsys/frontdoor selector region",
	// "HTTPRoute recsys/frontdoor weights" or "the switch action".
	By string
	// Changed says the switch changed something; a Service or HTTPRoute
	// already switched (or, on revert, not switched) is not changed. An
	// action always is.
	Changed bool
	// Took is how long the switch took.
	Took time.Duration
}

// Message describes a switch that changed traffic, as the report shows
// it: "traffic switched us-east→us-west by ... in 4ms" or "traffic failed
// back us-west→us-east by ...".
func (r Result) Message() string {
	verb := "switched"
	if r.Phase == Revert {
		verb = "failed back"
	}
	return fmt.Sprintf("traffic %s %s→%s by %s in %s", verb, r.From, r.To, r.By, r.Took.Round(time.Millisecond))
}

// Failure describes a switch that failed with err.
func (r Result) Failure(err error) string {
	return fmt.Sprintf("traffic switch %s→%s by %s FAILED after %s: %s", r.From, r.To, r.By, r.Took.Round(time.Millisecond), err.Error())
}

// Describe says how sw moves traffic, for dry runs.
func (s Switcher) Describe(sw *v1alpha1.CutoverSwitch) string {
	switch {
	case sw == nil:
		return "no switch"
	case sw.Service != nil:
		svc := s.serviceSwitch(sw.Service)
		return fmt.Sprintf("Service %s/%s selector %s", svc.Namespace, svc.Name, svc.SelectorKey)
	case sw.HTTPRoute != nil:
		h := s.routeSwitch(sw.HTTPRoute)
		return fmt.Sprintf("HTTPRoute %s/%s weights", h.Namespace, h.Name)
	default:
		return "the switch action"
	}
}

// Check checks, before a cutover takes its region down, that its Service
// or HTTPRoute switch can work: the object exists in an allowed namespace,
// the selector has the key, the route has backends to move. An object this
// fault already switched passes; a command or webhook is not checked.
func (s Switcher) Check(ctx context.Context, rc *v1alpha1.RegionCutover, m marks.Mark) error {
	return s.check(ctx, rc, &m)
}

// CheckObjects is Check before a run: the run is not known yet, so an
// object any run marked passes (Check, with the run, judges whose it is).
func (s Switcher) CheckObjects(ctx context.Context, rc *v1alpha1.RegionCutover) error {
	return s.check(ctx, rc, nil)
}

// check checks rc's switch for fault m; nil m passes every marked object.
func (s Switcher) check(ctx context.Context, rc *v1alpha1.RegionCutover, m *marks.Mark) error {
	switch sw := rc.Switch; {
	case sw == nil:
		return nil
	case sw.Service != nil:
		return s.checkService(ctx, s.serviceSwitch(sw.Service), m)
	case sw.HTTPRoute != nil:
		return s.checkRoute(ctx, s.routeSwitch(sw.HTTPRoute), m, rc.From, rc.To)
	}
	return nil
}

// ownership classifies annotations against m; nil m (a check before the
// run) counts any marks as the run's own.
func ownership(annotations map[string]string, m *marks.Mark) marks.Ownership {
	if m == nil {
		if _, ok := marks.Owner(annotations); ok {
			return marks.Ours
		}
		return marks.Unowned
	}
	return marks.OwnershipOf(annotations, *m)
}

// Switch moves a cutover's traffic from one region to another: a Service
// selector or HTTPRoute weights, or the switch action, which learns the
// direction from its environment: FIREDRILL_PHASE (inject or revert),
// FIREDRILL_TRAFFIC_FROM and FIREDRILL_TRAFFIC_TO, plus the run, the step
// and the cutover's fixed FIREDRILL_CUTOVER_FROM and _TO. A revert of a
// Service or HTTPRoute restores what its marks recorded, so it is a no-op
// when fault m did not switch. The result says how, and is filled in on
// failure too.
func (s Switcher) Switch(ctx context.Context, rc *v1alpha1.RegionCutover, phase Phase, m marks.Mark) (Result, error) {
	from, to := rc.From, rc.To
	if phase == Revert {
		from, to = rc.To, rc.From
	}
	res := Result{Phase: phase, From: from, To: to, By: s.Describe(rc.Switch)}
	if rc.Switch == nil {
		return res, errors.New("the cutover has no switch")
	}
	start := s.Clock.Now()
	var err error
	switch sw := rc.Switch; {
	case sw.Service != nil:
		svc := s.serviceSwitch(sw.Service)
		if phase == Inject {
			res.Changed, err = s.switchService(ctx, svc, m, to)
		} else {
			res.Changed, err = s.restoreService(ctx, svc.Namespace, svc.Name, m)
		}
		res.Took = s.Clock.Since(start)
	case sw.HTTPRoute != nil:
		h := s.routeSwitch(sw.HTTPRoute)
		if phase == Inject {
			res.Changed, err = s.switchRoute(ctx, h, m, from, to)
		} else {
			res.Changed, err = s.restoreRoute(ctx, h.Namespace, h.Name, m)
		}
		res.Took = s.Clock.Since(start)
	default:
		var out action.Result
		out, err = s.Actions.Run(ctx, &sw.Action, map[string]string{
			"FIREDRILL_RUN_ID": m.RunID, "FIREDRILL_STEP": m.Fault, "FIREDRILL_PHASE": string(phase),
			"FIREDRILL_TRAFFIC_FROM": from, "FIREDRILL_TRAFFIC_TO": to,
			"FIREDRILL_CUTOVER_FROM": rc.From, "FIREDRILL_CUTOVER_TO": rc.To,
		})
		res.Changed, res.Took = true, out.Duration()
	}
	if err != nil {
		return res, fmt.Errorf("switching traffic from %s to %s: %w", from, to, err)
	}
	return res, nil
}

// Restore restores a Service or HTTPRoute that a switch of fault m
// rewrote, from its marks (crash recovery without the plan).
func (s Switcher) Restore(ctx context.Context, t evidence.Target, m marks.Mark) error {
	ns, name, err := objects.SplitKey(t.Name)
	if err != nil {
		return err
	}
	switch t.Kind {
	case marks.KindService:
		_, err = s.restoreService(ctx, ns, name, m)
	case marks.KindHTTPRoute:
		_, err = s.restoreRoute(ctx, ns, name, m)
	default:
		err = fmt.Errorf("target %s is not a traffic switch object", t)
	}
	return err
}

// Marked lists the Services and HTTPRoutes of namespaces that carry a
// switch's marks matching filter. A cluster without the Gateway API has no
// routes to list.
func Marked(ctx context.Context, r client.Reader, namespaces []string, filter marks.Filter) ([]marks.Object, error) {
	var out []marks.Object
	routes := true
	for _, ns := range namespaces {
		var svcs corev1.ServiceList
		if err := r.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing services in %s: %w", ns, err)
		}
		for i := range svcs.Items {
			s := &svcs.Items[i]
			if m, ok := filter.Changed(s.Annotations); ok && s.Annotations[marks.AnnotationSelector] != "" {
				out = append(out, m.On(evidence.Target{Kind: marks.KindService, Name: s.Namespace + "/" + s.Name}))
			}
		}
		if !routes {
			continue
		}
		var list gatewayv1.HTTPRouteList
		if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
			if meta.IsNoMatchError(err) {
				routes = false
				continue
			}
			return nil, fmt.Errorf("listing HTTPRoutes in %s: %w", ns, err)
		}
		for i := range list.Items {
			rt := &list.Items[i]
			if m, ok := filter.Changed(rt.Annotations); ok && rt.Annotations[marks.AnnotationWeights] != "" {
				out = append(out, m.On(evidence.Target{Kind: marks.KindHTTPRoute, Name: rt.Namespace + "/" + rt.Name}))
			}
		}
	}
	return out, nil
}
