package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// httpRoutes is the resource of Gateway API HTTPRoutes.
var httpRoutes = schema.GroupVersionResource{Group: gatewayv1.GroupName, Version: "v1", Resource: "httproutes"}

// ServiceAddrs finds where a Service port is served on this machine.
// *ServiceProxy implements it.
type ServiceAddrs interface {
	Addr(namespace, name string, port int32) string
}

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	// Dynamic reads HTTPRoutes. Required.
	Dynamic dynamic.Interface
	// Namespace and Route name the HTTPRoute the gateway follows.
	// Required.
	Namespace, Route string
	// Services resolves a backendRef's Service port to an address (the
	// service proxy). Required.
	Services ServiceAddrs
	// Logger receives what the gateway does. Nil discards it.
	Logger *slog.Logger
}

// Gateway stands in for a Gateway API implementation's data plane for one
// HTTPRoute: an HTTP reverse proxy on 127.0.0.1 that follows the route
// (a watch) and sends each request to one of the backendRefs of the first
// rule that matches its path, chosen at random in proportion to their
// weights (unset weight 1), as Gateway implementations split traffic per
// request. Each backend is a Service, reached through the service proxy.
// Following the Gateway API spec, a request matching no rule gets 404,
// and one whose rule has no backend with weight above 0 (or only
// backends the proxy does not serve) gets 500.
type Gateway struct {
	opts  GatewayOptions
	route atomic.Pointer[followedRoute]
	rp    *httputil.ReverseProxy
	tr    *http.Transport

	mu       sync.Mutex
	stopCh   chan struct{}
	srv      *http.Server
	ln       net.Listener
	served   chan struct{}
	requests []RouteRecord
}

// followedRoute is the route as last seen, with its weights for records.
type followedRoute struct {
	rt      *gatewayv1.HTTPRoute
	weights string
}

// RouteRecord is one request the gateway routed.
type RouteRecord struct {
	// At is when it arrived; Backend is the Service (namespace/name) it
	// was sent to.
	At      time.Time
	Backend string
	// Weights are the route's backends and weights the choice was made
	// with ("recommender-us-east=80 recommender-us-west=20", rules
	// separated by "; ").
	Weights string
}

// NewGateway validates opts and returns a gateway that is not running.
func NewGateway(opts GatewayOptions) (*Gateway, error) {
	var errs []error
	if opts.Dynamic == nil {
		errs = append(errs, errors.New("a dynamic client is required"))
	}
	if opts.Namespace == "" || opts.Route == "" {
		errs = append(errs, errors.New("the route's namespace and name are required"))
	}
	if opts.Services == nil {
		errs = append(errs, errors.New("service addresses are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid gateway options: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Gateway{opts: opts}
	g.tr = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	g.rp = &httputil.ReverseProxy{
		Transport: g.tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = backendOf(pr.In.Context())
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			g.opts.Logger.Debug("forwarding a request", "err", err)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
	}
	return g, nil
}

type backendKey struct{}

func backendOf(ctx context.Context) string {
	s, _ := ctx.Value(backendKey{}).(string)
	return s
}

// Start watches the route, listens on 127.0.0.1 and returns once the
// watch has synced (the route need not exist yet).
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	if g.stopCh != nil {
		g.mu.Unlock()
		return errors.New("gateway already started")
	}
	g.stopCh = make(chan struct{})
	g.mu.Unlock()
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(g.opts.Dynamic, 0, g.opts.Namespace,
		func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + g.opts.Route })
	inf := factory.ForResource(httpRoutes).Informer()
	set := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		var rt gatewayv1.HTTPRoute
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rt); err != nil {
			g.opts.Logger.Error("decoding the HTTPRoute", "err", err)
			return
		}
		w := weightsOf(&rt)
		g.route.Store(&followedRoute{rt: &rt, weights: w})
		g.opts.Logger.Info("following the HTTPRoute", "route", u.GetNamespace()+"/"+u.GetName(), "resourceVersion", u.GetResourceVersion(), "weights", w)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: set, UpdateFunc: func(_, obj any) { set(obj) }, DeleteFunc: func(any) { g.route.Store(nil) },
	}); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	factory.Start(g.stopCh)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("gateway: waiting for the HTTPRoute watch to sync: %w", ctx.Err())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.mu.Lock()
	g.ln, g.served = ln, make(chan struct{})
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	g.mu.Unlock()
	go func() {
		defer close(g.served)
		_ = g.srv.Serve(ln)
	}()
	return nil
}

// Stop closes the listener and every connection. It is idempotent.
func (g *Gateway) Stop(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopCh == nil {
		return nil
	}
	select {
	case <-g.stopCh:
		return nil
	default:
	}
	close(g.stopCh)
	if g.srv != nil {
		_ = g.srv.Close()
		<-g.served
	}
	g.tr.CloseIdleConnections()
	return nil
}

// Addr is the gateway's listen address once started.
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// Requests returns the requests routed to a backend so far, in order.
func (g *Gateway) Requests() []RouteRecord {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	fr := g.route.Load()
	if fr == nil {
		http.Error(w, "no route", http.StatusNotFound)
		return
	}
	rt := fr.rt
	rule, ok := matchRule(rt, r.URL.Path)
	if !ok {
		http.Error(w, "no rule matches", http.StatusNotFound)
		return
	}
	ref, ok := pickWeighted(rule.BackendRefs, rand.IntN)
	if !ok {
		http.Error(w, "no backend with a weight above 0", http.StatusInternalServerError)
		return
	}
	ns := rt.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	var port int32
	if ref.Port != nil {
		port = int32(*ref.Port)
	}
	addr := g.opts.Services.Addr(ns, string(ref.Name), port)
	if addr == "" || (ref.Kind != nil && *ref.Kind != "Service") {
		http.Error(w, "invalid backend "+string(ref.Name)+":"+strconv.Itoa(int(port)), http.StatusInternalServerError)
		return
	}
	g.mu.Lock()
	g.requests = append(g.requests, RouteRecord{At: time.Now(), Backend: ns + "/" + string(ref.Name), Weights: fr.weights})
	g.mu.Unlock()
	g.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, addr)))
}

// matchRule returns the first rule that matches path: one without matches
// (the default match, PathPrefix /), or with a PathPrefix or Exact path
// match (header, query and method matches are not supported and never
// match).
func matchRule(rt *gatewayv1.HTTPRoute, path string) (gatewayv1.HTTPRouteRule, bool) {
	for _, rule := range rt.Spec.Rules {
		if len(rule.Matches) == 0 {
			return rule, true
		}
		for _, m := range rule.Matches {
			if len(m.Headers) > 0 || len(m.QueryParams) > 0 || m.Method != nil {
				continue
			}
			typ, value := gatewayv1.PathMatchPathPrefix, "/"
			if m.Path != nil {
				if m.Path.Type != nil {
					typ = *m.Path.Type
				}
				if m.Path.Value != nil {
					value = *m.Path.Value
				}
			}
			switch typ {
			case gatewayv1.PathMatchExact:
				if path == value {
					return rule, true
				}
			case gatewayv1.PathMatchPathPrefix:
				v := strings.TrimSuffix(value, "/")
				if path == v || strings.HasPrefix(path, v+"/") || v == "" {
					return rule, true
				}
			}
		}
	}
	return gatewayv1.HTTPRouteRule{}, false
}

// pickWeighted chooses a backendRef at random in proportion to its weight
// (unset means 1); false when every weight is 0.
func pickWeighted(refs []gatewayv1.HTTPBackendRef, rnd func(int) int) (gatewayv1.HTTPBackendRef, bool) {
	total := 0
	weight := func(r gatewayv1.HTTPBackendRef) int {
		if r.Weight == nil {
			return 1
		}
		return int(*r.Weight)
	}
	for _, r := range refs {
		total += weight(r)
	}
	if total <= 0 {
		return gatewayv1.HTTPBackendRef{}, false
	}
	n := rnd(total)
	for _, r := range refs {
		if n < weight(r) {
			return r, true
		}
		n -= weight(r)
	}
	return gatewayv1.HTTPBackendRef{}, false
}

// weightsOf lists a route's backends and weights: "a=80 b=20", rules
// separated by "; ".
func weightsOf(rt *gatewayv1.HTTPRoute) string {
	rules := make([]string, 0, len(rt.Spec.Rules))
	for _, rule := range rt.Spec.Rules {
		refs := make([]string, 0, len(rule.BackendRefs))
		for _, ref := range rule.BackendRefs {
			w := int32(1)
			if ref.Weight != nil {
				w = *ref.Weight
			}
			refs = append(refs, fmt.Sprintf("%s=%d", ref.Name, w))
		}
		rules = append(rules, strings.Join(refs, " "))
	}
	return strings.Join(rules, "; ")
}
