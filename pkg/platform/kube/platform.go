package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/apiclient"
	"github.com/firedrill/firedrill/pkg/platform/kube/chaos"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
	"github.com/firedrill/firedrill/pkg/platform/kube/fleet"
	"github.com/firedrill/firedrill/pkg/platform/kube/gpu"
	"github.com/firedrill/firedrill/pkg/platform/kube/liveness"
	"github.com/firedrill/firedrill/pkg/platform/kube/nodes"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
	"github.com/firedrill/firedrill/pkg/platform/kube/preflight"
	"github.com/firedrill/firedrill/pkg/platform/kube/recovery"
	"github.com/firedrill/firedrill/pkg/platform/kube/region"
	"github.com/firedrill/firedrill/pkg/platform/kube/storeoutage"
	"github.com/firedrill/firedrill/pkg/platform/kube/targets"
	"github.com/firedrill/firedrill/pkg/platform/kube/traffic"
	"github.com/firedrill/firedrill/pkg/platform/kube/watch"
)

// discoverer is the part of a discovery client the platform uses.
type discoverer interface {
	chaos.Discovery
	// ServerVersion asks the API server its version.
	ServerVersion() (*version.Info, error)
}

// Platform drills a system running in a Kubernetes cluster.
type Platform struct {
	// identity is the cluster's, for the journal.
	identity evidence.Cluster
	opts     Options
	scope    scope
	host     string
	// clients are nil for platforms built from fakes.
	clients *apiclient.Clients
	// c reads live (it is the APIReader: no cache) and writes.
	c client.Client
	// cs serves kubectl's drain helper.
	cs    kubernetes.Interface
	disco discoverer

	// startMu serialises Start and Stop; mu guards the rest. Start does
	// not hold mu while the informers sync: their handlers take it.
	startMu     sync.Mutex
	mu          sync.Mutex
	watch       *watch.Watcher
	statsLogged bool
	// log is what this process remembers about each fault, and where
	// its events go.
	log *faultlog.Log

	// hb are the heartbeats this process renews on this cluster.
	hb *liveness.Heartbeats
}

var (
	_ platform.Platform = (*Platform)(nil)
	_ fleet.Member      = (*Platform)(nil)
)

// scope is where a plan's faults act: its namespaces and, in a fleet, the
// cluster's region.
type scope struct {
	// namespace is the target namespace.
	namespace string
	// allowed are the namespaces faults may touch (safety.namespaces).
	allowed []string
	// watched are the namespaces informers cover: the allowed ones and
	// those of the watched workloads and the model store.
	watched []string
	// workloads are system.workloads, defaulted.
	workloads []v1alpha1.WorkloadRef
	// cluster says which region the cluster is in a fleet.
	cluster objects.Scope
}

// scopeOf is the scope of a plan on a cluster of region cluster (empty on
// one cluster).
func scopeOf(spec *v1alpha1.DrillPlanSpec, cluster string) scope {
	ns := spec.Target.Namespace
	if ns == "" {
		ns = "default"
	}
	allowed := slices.Clone(spec.Safety.Namespaces)
	if len(allowed) == 0 {
		allowed = []string{ns}
	}
	sc := scope{namespace: ns, allowed: allowed, watched: slices.Clone(allowed), cluster: objects.Scope{Cluster: cluster}}
	add := func(ns string) {
		if !slices.Contains(sc.watched, ns) {
			sc.watched = append(sc.watched, ns)
		}
	}
	for _, w := range spec.System.Workloads {
		w = objects.DefaultRef(w, ns)
		sc.workloads = append(sc.workloads, w)
		add(w.Namespace)
	}
	if ms := spec.System.ModelStore; ms != nil && ms.Workload != nil {
		add(objects.DefaultRef(*ms.Workload, ns).Namespace)
	}
	slices.Sort(sc.watched)
	return sc
}

// New builds the platform's clients. It does not contact the cluster:
// Preflight and Start do, and Targets, Inject, Revert and Recover read it
// live. A missing kubeconfig is an error that says where firedrill looked
// (apiclient.ErrNoKubeconfig).
func New(opts Options) (*Platform, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	cfg := opts.RESTConfig
	contextName := ""
	if cfg == nil {
		kubeContext := opts.Context
		if c := opts.Spec.Target.Context; c != "" && opts.clusterRegion == "" {
			kubeContext = c // the plan's context wins
		}
		var err error
		if cfg, err = apiclient.RESTConfig(opts.Kubeconfig, kubeContext, opts.QPS, opts.Burst); err != nil {
			return nil, err
		}
		contextName = apiclient.ContextName(opts.Kubeconfig, kubeContext)
	} else {
		cfg = rest.CopyConfig(cfg)
		apiclient.UncompressedOnLoopback(cfg)
		if cfg.QPS == 0 && cfg.RateLimiter == nil {
			cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
		}
	}
	clients, err := apiclient.New(cfg, opts.Clock)
	if err != nil {
		return nil, err
	}
	p := newPlatform(opts, clients.Client, clients.Clientset, clients.Clientset.Discovery())
	p.clients, p.host = clients, cfg.Host
	p.identity = apiclient.Identity(cfg, contextName)
	p.identity.Region = opts.clusterRegion
	return p, nil
}

// Clusters implements platform.Platform: the one cluster the platform
// acts on.
func (p *Platform) Clusters() []evidence.Cluster {
	if p.identity.Server == "" {
		return nil
	}
	return []evidence.Cluster{p.identity}
}

// newPlatform assembles a platform from clients; unit tests pass fakes.
func newPlatform(opts Options, c client.Client, cs kubernetes.Interface, disco discoverer) *Platform {
	opts.defaults()
	sc := scopeOf(opts.Spec, opts.clusterRegion)
	return &Platform{
		opts: opts, scope: sc,
		c: c, cs: cs, disco: disco,
		log: faultlog.New(opts.Clock),
		hb: &liveness.Heartbeats{Client: c, Clock: opts.Clock, Namespace: sc.namespace,
			Interval: opts.HeartbeatInterval, Grace: opts.HeartbeatGrace},
	}
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return string(v1alpha1.PlatformKubernetes) }

// reach asks the cluster its version, naming the cluster when it does
// not answer.
func (p *Platform) reach() (*version.Info, error) {
	ver, err := p.disco.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reaching the cluster at %s: %w", p.host, err)
	}
	return ver, nil
}

// Start implements platform.Platform: it checks the cluster answers and
// starts and syncs the informers behind the recovery signals. Events go to
// rec until Stop.
func (p *Platform) Start(ctx context.Context, rec evidence.Recorder) (platform.Info, error) {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if rec == nil {
		rec = evidence.Discard
	}
	p.mu.Lock()
	started := p.watch != nil
	p.mu.Unlock()
	if started {
		return p.info(), nil
	}
	ver, err := p.reach()
	if err != nil {
		return platform.Info{}, err
	}
	if p.clients == nil {
		return platform.Info{}, errors.New("kube platform: no REST config to start informers from")
	}
	w, err := watch.New(watch.Options{
		Config: p.clients.Config, HTTPClient: p.clients.HTTPClient, Mapper: p.clients.Mapper, Scheme: p.clients.Scheme,
		Clock: p.opts.Clock, Namespaces: p.scope.watched, Workloads: p.scope.workloads, Sink: p.log,
	})
	if err != nil {
		return platform.Info{}, err
	}
	if err := w.Start(ctx, p.opts.SyncTimeout); err != nil {
		return platform.Info{}, err
	}
	p.mu.Lock()
	p.watch = w
	p.mu.Unlock()
	p.log.SetRecorder(rec)
	log.FromContext(ctx).Info("kubernetes platform started", "host", p.host, "version", ver.GitVersion, "namespaces", p.scope.watched)
	info := p.info()
	info.Details["version"] = ver.GitVersion
	return info, nil
}

func (p *Platform) info() platform.Info {
	return platform.Info{Details: map[string]string{"cluster": p.host, "namespace": p.scope.namespace}}
}

// Stop implements platform.Platform: it stops the informers, ends the
// heartbeats of this process's runs (deleting their Leases: a finished run
// is not alive) and logs, once, what the client asked of the API server
// (see APIStats). It reverts nothing; the engine does that before.
func (p *Platform) Stop(ctx context.Context) error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	w := p.watch
	p.watch = nil
	logStats := p.clients != nil && !p.statsLogged
	p.statsLogged = true
	p.mu.Unlock()
	p.log.SetRecorder(nil)
	if w != nil {
		w.Stop()
		log.FromContext(ctx).Info("kubernetes informers", "objects", w.Received())
	}
	hbErr := p.hb.Stop(ctx)
	if logStats {
		s := p.clients.Counter.Snapshot()
		log.FromContext(ctx).Info("kubernetes API client",
			"requests", s.Requests, "peakPerSecond", s.PeakPerSecond, "qps", s.QPS, "burst", s.Burst,
			"status429", s.TooManyRequests(), "throttledWait", s.LimiterWait, "throttledMaxWait", s.LimiterMaxWait,
			"transportErrors", s.TransportErrors, "verbs", s.Verbs(), "statuses", s.Statuses(), "calls", s.Calls())
	}
	return hbErr
}

// APIStats returns what the platform's clients have asked of the API
// server since New: requests by verb and status, the densest second and
// the time spent waiting for the client's rate limiter. A platform not
// built by New returns the zero value.
func (p *Platform) APIStats() APIStats {
	if p.clients == nil {
		return APIStats{}
	}
	return p.clients.Counter.Snapshot()
}

// errNotStarted is returned by the informer-backed signals before Start.
var errNotStarted = errors.New("kube platform not started")

// Capacity implements platform.Platform from the informers' caches. A
// watched workload that does not exist is an error.
func (p *Platform) Capacity(ctx context.Context) ([]evidence.CapacityPoint, error) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w == nil {
		return nil, errNotStarted
	}
	points, missing, err := w.Capacity(ctx, p.opts.Clock.Now(), p.capacityPrefix(), p.lostRegion())
	var errs []string
	for _, name := range missing {
		errs = append(errs, name+" not found")
	}
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return points, fmt.Errorf("capacity: %s", strings.Join(errs, "; "))
	}
	return points, nil
}

// CapacityPresent is Capacity for the watched workloads that exist, with
// the names of those that do not (a fleet looks for each workload in every
// cluster). Before Start it reads the cluster live. On a cluster of a
// fleet, names are prefixed with the cluster's region.
func (p *Platform) CapacityPresent(ctx context.Context) ([]evidence.CapacityPoint, []string, error) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w != nil {
		return w.Capacity(ctx, p.opts.Clock.Now(), p.capacityPrefix(), p.lostRegion())
	}
	return watch.CapacityOf(ctx, p.c, p.scope.workloads, p.capacityPrefix(), p.opts.Clock.Now(), p.lostRegion())
}

// lostRegion says which workloads are in a region a cutover of this
// process took down and has not begun to restore: they desire nothing
// during the failover. nil when no region is down.
func (p *Platform) lostRegion() watch.LostFunc {
	lost := p.log.Lost()
	if len(lost) == 0 {
		return nil
	}
	sc := p.scope.cluster
	return func(objLabels map[string]string, tmpl *corev1.PodTemplateSpec) bool {
		return slices.Contains(lost, sc.WorkloadRegion(objLabels, tmpl))
	}
}

func (p *Platform) capacityPrefix() string {
	if p.scope.cluster.Cluster == "" {
		return ""
	}
	return p.scope.cluster.Cluster + "/"
}

// CanTakeOver checks, on a cluster of a fleet, that the cluster has a
// schedulable node to take over a lost region.
func (p *Platform) CanTakeOver(ctx context.Context) error {
	return p.deps(p.scope).checker.Survivor(ctx, p.scope.cluster.Cluster)
}

// deps are the platform's packages, configured for a scope.
type deps struct {
	drainer  nodes.Drainer
	gpu      gpu.Failer
	cutover  region.Cutover
	switcher traffic.Switcher
	chaos    chaos.Client
	outage   storeoutage.Outage
	checker  preflight.Checker
	recovery recovery.Recovery
	targets  targets.Resolver
}

// deps configures the platform's packages for sc.
func (p *Platform) deps(sc scope) deps {
	o := p.opts
	d := deps{
		drainer: nodes.Drainer{Client: p.c, Clientset: p.cs, Allowed: sc.allowed, Clock: o.Clock, PollInterval: o.PollInterval},
		gpu:     gpu.Failer{Client: p.c, Allowed: sc.allowed},
		cutover: region.Cutover{Client: p.c, Allowed: sc.allowed, Namespaces: sc.watched, Clock: o.Clock,
			PollInterval: o.PollInterval, Timeout: DefaultDrainTimeout},
		switcher: traffic.Switcher{Client: p.c, Actions: o.Actions, Clock: o.Clock, Namespace: sc.namespace, Allowed: sc.allowed, Host: p.host},
		chaos:    chaos.Client{Client: p.c, Discovery: p.disco, Clock: o.Clock, PollInterval: o.PollInterval, Timeout: o.ChaosTimeout},
	}
	d.outage = storeoutage.Outage{Client: p.c, Chaos: d.chaos, Allowed: sc.allowed, Namespace: sc.namespace, Namespaces: sc.watched,
		System: p.opts.Spec.System, Scope: sc.cluster}
	d.checker = preflight.Checker{Client: p.c, Discovery: p.disco, Switcher: d.switcher, Outage: d.outage, Cutover: d.cutover,
		GPU: d.gpu, Namespace: sc.namespace, Allowed: sc.allowed, Scope: sc.cluster}
	d.recovery = recovery.Recovery{Client: p.c, Outage: d.outage, Chaos: d.chaos, Switcher: d.switcher}
	d.targets = targets.Resolver{Client: p.c, Discovery: p.disco, GPU: d.gpu, Outage: d.outage, Switcher: d.switcher,
		Cutover: d.cutover, Checker: d.checker, Namespace: sc.namespace, Allowed: sc.allowed, Scope: sc.cluster}
	return d
}

// Preflight implements platform.Platform: before anything is started or
// touched, it checks the cluster answers, that every fault of spec can
// work on it and that no other run, live or dead, holds its targets (its
// marks are on objects of the plan's namespaces, or on nodes when the
// plan acts on nodes; the message names the run), and returns every
// problem at once. On a cluster of a fleet
// it checks the faults that act in that cluster and leaves the watched
// workloads, which may live in another cluster, to the fleet.
func (p *Platform) Preflight(ctx context.Context, spec *v1alpha1.DrillPlanSpec) error {
	if _, err := p.reach(); err != nil {
		return err
	}
	sc := scopeOf(spec, p.scope.cluster.Cluster)
	d := p.deps(sc)
	d.outage.System = spec.System
	d.checker.Outage = d.outage
	var errs []error
	for _, st := range spec.Steps {
		if err := d.checker.Step(ctx, st); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.held(ctx, sc, spec); err != nil {
		errs = append(errs, err)
	}
	if sc.cluster.Cluster == "" {
		_, missing, err := watch.CapacityOf(ctx, p.c, sc.workloads, "", p.opts.Clock.Now(), nil)
		if err != nil {
			errs = append(errs, err)
		}
		if err := preflight.Missing(missing, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
