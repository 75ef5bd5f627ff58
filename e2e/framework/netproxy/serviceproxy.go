package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/firedrill/firedrill/e2e/framework/podnet"
)

// dialTimeout bounds the proxy's connection to an endpoint.
const dialTimeout = time.Second

// ServiceProxyOptions configure a ServiceProxy.
type ServiceProxyOptions struct {
	// Clientset talks to the cluster. Required.
	Clientset kubernetes.Interface
	// Logger receives what the proxy does. Nil discards it.
	Logger *slog.Logger
}

// ServiceProxy does kube-proxy's job for the test bed: it follows every
// Service and its EndpointSlices (written by the real EndpointSlice
// controller) and forwards TCP connections to a Service's port to one of
// its endpoints, chosen at random per connection as kube-proxy's iptables
// rules do. Like kube-proxy it uses the endpoints that are ready; when
// none is, those that are serving and terminating; when there are none, it
// rejects the connection (a TCP reset). An endpoint is dialled at the
// loopback image of its address (see podnet.LoopbackImage).
//
// A Service's ClusterIP is not routable here, so each Service port gets a
// listener on 127.0.0.1 with a free port, for as long as the Service
// exists: Addr names it, and ServiceEnv gives pods service link variables
// that point at it.
type ServiceProxy struct {
	opts     ServiceProxyOptions
	services listerscorev1.ServiceLister
	slices   listersdiscoveryv1.EndpointSliceLister

	mu      sync.Mutex
	stopCh  chan struct{}
	stopped bool
	fronts  map[servicePort]*frontend
	conns   map[net.Conn]struct{}
	records []ConnRecord
	wg      sync.WaitGroup
}

// servicePort names one port of a Service.
type servicePort struct {
	namespace, name string
	port            int32
}

// frontend is the listener of one Service port and its endpoints.
type frontend struct {
	key      servicePort
	portName string
	ln       net.Listener
	// backends is replaced whole when the EndpointSlices change.
	backends atomic.Pointer[[]backend]
}

// backend is one endpoint of a Service port.
type backend struct {
	addr, pod, node             string
	ready, serving, terminating bool
}

// ConnRecord is one connection the proxy forwarded.
type ConnRecord struct {
	// At is when it was accepted.
	At time.Time
	// Service is namespace/name; Pod and Node name the endpoint chosen.
	Service, Pod, Node string
	// Terminating is true when only terminating endpoints were left.
	Terminating bool
}

// NewServiceProxy validates opts and returns a proxy that is not running.
func NewServiceProxy(opts ServiceProxyOptions) (*ServiceProxy, error) {
	if opts.Clientset == nil {
		return nil, errors.New("invalid service proxy options: a clientset is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &ServiceProxy{opts: opts, fronts: map[servicePort]*frontend{}, conns: map[net.Conn]struct{}{}}, nil
}

// Start follows Services and EndpointSlices and returns once both watches
// have synced and every Service port has its listener.
func (p *ServiceProxy) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.stopCh != nil {
		p.mu.Unlock()
		return errors.New("service proxy already started")
	}
	p.stopCh = make(chan struct{})
	p.mu.Unlock()
	factory := informers.NewSharedInformerFactory(p.opts.Clientset, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	p.services, p.slices = svcInf.Lister(), sliceInf.Lister()
	onService := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if s, ok := obj.(*corev1.Service); ok {
			p.sync(s.Namespace, s.Name)
		}
	}
	onSlice := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelServiceName] != "" {
			p.sync(s.Namespace, s.Labels[discoveryv1.LabelServiceName])
		}
	}
	for inf, f := range map[cache.SharedIndexInformer]func(any){svcInf.Informer(): onService, sliceInf.Informer(): onSlice} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: f, UpdateFunc: func(_, obj any) { f(obj) }, DeleteFunc: f,
		}); err != nil {
			return fmt.Errorf("service proxy: %w", err)
		}
	}
	factory.Start(p.stopCh)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("service proxy: waiting for the %v watch to sync: %w", typ, ctx.Err())
		}
	}
	// Handlers may have run before the listers were complete: go over
	// every Service once more.
	all, err := p.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("service proxy: listing services: %w", err)
	}
	for _, s := range all {
		p.sync(s.Namespace, s.Name)
	}
	return nil
}

// Stop closes every listener and connection. It is idempotent.
func (p *ServiceProxy) Stop(context.Context) error {
	p.mu.Lock()
	if p.stopCh == nil || p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	close(p.stopCh)
	for _, f := range p.fronts {
		_ = f.ln.Close()
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Addr returns the address where a Service's port is served
// (127.0.0.1:<port>), or "" when the proxy has no such Service port.
func (p *ServiceProxy) Addr(namespace, name string, port int32) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.fronts[servicePort{namespace, name, port}]; f != nil {
		return f.ln.Addr().String()
	}
	return ""
}

// WaitAddr waits until the proxy serves a Service's port and returns its
// address.
func (p *ServiceProxy) WaitAddr(ctx context.Context, namespace, name string, port int32) (string, error) {
	var addr string
	err := poll(ctx, time.Minute, func(context.Context) (bool, error) {
		addr = p.Addr(namespace, name, port)
		return addr != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for the proxy of Service %s/%s port %d: %w", namespace, name, port, err)
	}
	return addr, nil
}

// ServiceEnv returns the service link variables of a namespace's Services
// that the proxy serves, as the kubelet sets them in a container
// ({NAME}_SERVICE_HOST, {NAME}_SERVICE_PORT and {NAME}_SERVICE_PORT_{PORT}
// for named ports), with the proxy's address in place of the ClusterIP.
func (p *ServiceProxy) ServiceEnv(namespace string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := map[string]*frontend{}
	env := map[string]string{}
	keys := make([]servicePort, 0, len(p.fronts))
	for k := range p.fronts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b servicePort) int { return int(a.port - b.port) })
	for _, k := range keys {
		f := p.fronts[k]
		if k.namespace != namespace {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(k.name, "-", "_")) + "_SERVICE_"
		host, port, _ := net.SplitHostPort(f.ln.Addr().String())
		if first[k.name] == nil {
			first[k.name] = f
			env[prefix+"HOST"], env[prefix+"PORT"] = host, port
		}
		if f.portName != "" {
			env[prefix+"PORT_"+strings.ToUpper(strings.ReplaceAll(f.portName, "-", "_"))] = port
		}
	}
	return env
}

// Connections returns the connections forwarded so far to a Service
// (namespace/name), in order.
func (p *ServiceProxy) Connections(service string) []ConnRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ConnRecord
	for _, r := range p.records {
		if r.Service == service {
			out = append(out, r)
		}
	}
	return out
}

// sync brings the listeners and endpoints of one Service up to date.
func (p *ServiceProxy) sync(namespace, name string) {
	svc, err := p.services.Services(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		p.opts.Logger.Error("reading a service", "service", namespace+"/"+name, "err", err)
		return
	}
	want := map[servicePort]corev1.ServicePort{}
	if svc != nil && svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, sp := range svc.Spec.Ports {
			if sp.Protocol == "" || sp.Protocol == corev1.ProtocolTCP {
				want[servicePort{namespace, name, sp.Port}] = sp
			}
		}
	}
	var eps []*discoveryv1.EndpointSlice
	if len(want) > 0 {
		eps, err = p.slices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
		if err != nil {
			p.opts.Logger.Error("listing endpoint slices", "service", namespace+"/"+name, "err", err)
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	for k, f := range p.fronts {
		if _, ok := want[k]; !ok && k.namespace == namespace && k.name == name {
			_ = f.ln.Close()
			delete(p.fronts, k)
		}
	}
	for k, sp := range want {
		f := p.fronts[k]
		if f == nil {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				p.opts.Logger.Error("listening for a service", "service", namespace+"/"+name, "err", err)
				continue
			}
			f = &frontend{key: k, portName: sp.Name, ln: ln}
			p.fronts[k] = f
			p.wg.Go(func() { p.serve(f) })
			p.opts.Logger.Info("proxying a service port", "service", namespace+"/"+name, "port", sp.Port, "addr", ln.Addr().String())
		}
		bs := endpointsFor(eps, sp.Name)
		f.backends.Store(&bs)
	}
}

// endpointsFor lists the endpoints of the port named portName in a
// Service's EndpointSlices, at their loopback images.
func endpointsFor(eps []*discoveryv1.EndpointSlice, portName string) []backend {
	var out []backend
	for _, s := range eps {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port int32
		found := false
		for _, sp := range s.Ports {
			if ptrValue(sp.Name) == portName && sp.Port != nil && (sp.Protocol == nil || *sp.Protocol == corev1.ProtocolTCP) {
				port, found = *sp.Port, true
			}
		}
		if !found {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			image, err := podnet.LoopbackImage(e.Addresses[0])
			if err != nil {
				continue
			}
			b := backend{
				addr:        net.JoinHostPort(image, strconv.Itoa(int(port))),
				ready:       e.Conditions.Ready == nil || *e.Conditions.Ready,
				serving:     e.Conditions.Serving == nil || *e.Conditions.Serving,
				terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
				node:        ptrValue(e.NodeName),
			}
			if e.TargetRef != nil {
				b.pod = e.TargetRef.Name
			}
			out = append(out, b)
		}
	}
	return out
}

// pickBackend chooses as kube-proxy does: a random ready endpoint; if
// none is ready, a random serving and terminating one; else none.
func pickBackend(bs []backend, rnd func(int) int) (backend, bool) {
	var ready, terminating []backend
	for _, b := range bs {
		switch {
		case b.ready:
			ready = append(ready, b)
		case b.serving && b.terminating:
			terminating = append(terminating, b)
		}
	}
	for _, set := range [][]backend{ready, terminating} {
		if len(set) > 0 {
			return set[rnd(len(set))], true
		}
	}
	return backend{}, false
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// serve accepts a Service port's connections until its listener closes.
func (p *ServiceProxy) serve(f *frontend) {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Go(func() {
			defer p.untrack(c)
			p.forward(f, c)
		})
	}
}

func (p *ServiceProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *ServiceProxy) untrack(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// forward connects c to an endpoint and copies both ways until either
// side is done. With no endpoint, or one that refuses, c is reset.
func (p *ServiceProxy) forward(f *frontend, c net.Conn) {
	var bs []backend
	if ptr := f.backends.Load(); ptr != nil {
		bs = *ptr
	}
	b, ok := pickBackend(bs, rand.IntN)
	svc := f.key.namespace + "/" + f.key.name
	if !ok {
		reset(c)
		return
	}
	up, err := net.DialTimeout("tcp", b.addr, dialTimeout)
	if err != nil {
		p.opts.Logger.Debug("dialling an endpoint", "service", svc, "pod", b.pod, "err", err)
		reset(c)
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrack(up)
	p.mu.Lock()
	p.records = append(p.records, ConnRecord{At: time.Now(), Service: svc, Pod: b.pod, Node: b.node, Terminating: !b.ready})
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// reset closes c with a TCP reset, as a rejected connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// poll calls cond every 100 ms until it returns true, an error, or timeout
// passes (as framework's poll does).
func poll(ctx context.Context, timeout time.Duration, cond wait.ConditionWithContextFunc) error {
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		return fmt.Errorf("after %s: %w", timeout, err)
	}
	return nil
}
