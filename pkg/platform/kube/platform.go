package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
)

// Platform drills a system running in a Kubernetes cluster.
type Platform struct {
	opts      Options
	spec      *v1alpha1.DrillPlanSpec
	namespace string
	// allowed are the namespaces faults may touch.
	allowed []string

	cfg *rest.Config
	api *apiCounter // nil for platforms built from fakes
	cs  kubernetes.Interface
	// meta deletes pods without reading them back; New builds it, tests
	// set a fake.
	meta   metadata.Interface
	client client.Client
	disco  discovery.DiscoveryInterface

	mu      sync.Mutex
	started bool
	// statsLogged says Stop logged the API statistics.
	statsLogged bool
	stopCh      chan struct{}
	watch       *watcher
	// state per fault (by step name).
	faults map[string]*faultState
}

// faultState is what the platform remembers about one fault of the run.
type faultState struct {
	first    time.Time
	notes    []string
	killed   map[string]types.UID // pod -> uid deleted, for idempotence
	restarts bool                 // restartReplicas done
	switched bool                 // traffic switched away
	effect   time.Time            // first disruptive call that succeeded
	// regionDown: a drain cutover cordoned its whole region and deleted
	// its pods (once); regionPods are those pods, node -> uid -> pod.
	regionDown bool
	regionPods map[string]map[types.UID]string
	// regionRestored: a revert uncordoned the whole region (once).
	regionRestored bool
	// down are the cutover targets this process took down (Kind/Name).
	down map[string]bool
}

var (
	_ platform.Platform            = (*Platform)(nil)
	_ platform.ReplacementReporter = (*Platform)(nil)
	_ platform.Noter               = (*Platform)(nil)
	_ platform.Recoverer           = (*Platform)(nil)
	_ platform.EffectReporter      = (*Platform)(nil)
)

// NewScheme is the scheme of the platform's controller-runtime client:
// client-go's types and the Chaos Mesh kinds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering client-go types: %w", err)
	}
	if err := chaosv1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("registering Chaos Mesh types: %w", err)
	}
	if err := addGatewayAPI(s); err != nil {
		return nil, err
	}
	return s, nil
}

// New builds the platform's clients. It does not contact the cluster: Start
// does, and Targets, Inject, Revert and Recover read it live.
func New(opts Options) (*Platform, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	cfg := opts.RESTConfig
	if cfg == nil {
		kubeContext := opts.Context
		if c := opts.Spec.Target.Context; c != "" {
			kubeContext = c // the plan's context wins
		}
		var err error
		if cfg, err = RESTConfig(opts.Kubeconfig, kubeContext, opts.QPS, opts.Burst); err != nil {
			return nil, err
		}
	} else {
		cfg = rest.CopyConfig(cfg)
		uncompressedOnLoopback(cfg)
		if cfg.QPS == 0 && cfg.RateLimiter == nil {
			cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
		}
	}
	qps, burst := cfg.QPS, cfg.Burst
	if cfg.RateLimiter != nil {
		qps, burst = cfg.RateLimiter.QPS(), 0 // a limiter given by the caller does not tell its burst
	}
	api := newAPICounter(opts.Clock, qps, burst)
	api.instrument(cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building clientset: %w", err)
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("building controller-runtime client: %w", err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building metadata client: %w", err)
	}
	p := newPlatform(opts, cfg, cs, c, cs.Discovery())
	p.api, p.meta = api, mc
	return p, nil
}

// newPlatform assembles a platform from clients; unit tests pass fakes.
func newPlatform(opts Options, cfg *rest.Config, cs kubernetes.Interface, c client.Client, disco discovery.DiscoveryInterface) *Platform {
	opts.defaults()
	ns := opts.Spec.Target.Namespace
	if ns == "" {
		ns = "default"
	}
	allowed := slices.Clone(opts.Spec.Safety.Namespaces)
	if len(allowed) == 0 {
		allowed = []string{ns}
	}
	return &Platform{
		opts: opts, spec: opts.Spec, namespace: ns, allowed: allowed,
		cfg: cfg, cs: cs, client: c, disco: disco,
		faults: map[string]*faultState{},
	}
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return string(v1alpha1.PlatformKubernetes) }

// watchedNamespaces are the namespaces informers cover: the allowed ones
// and those of the watched workloads and the model store.
func (p *Platform) watchedNamespaces() []string {
	set := slices.Clone(p.allowed)
	add := func(ns string) {
		if ns == "" {
			ns = p.namespace
		}
		if !slices.Contains(set, ns) {
			set = append(set, ns)
		}
	}
	for _, w := range p.spec.System.Workloads {
		add(w.Namespace)
	}
	if ms := p.spec.System.ModelStore; ms != nil && ms.Workload != nil {
		add(ms.Workload.Namespace)
	}
	slices.Sort(set)
	return set
}

// Start implements platform.Platform: it checks the cluster answers and
// starts and syncs the informers behind the recovery signals.
func (p *Platform) Start(ctx context.Context) (platform.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return p.info(), nil
	}
	ver, err := p.disco.ServerVersion()
	if err != nil {
		return platform.Info{}, fmt.Errorf("reaching the cluster at %s: %w", p.host(), err)
	}
	stopCh := make(chan struct{})
	w := newWatcher(p.cs, p.opts.Clock, p.watchedNamespaces(), p.spec.System.Workloads, p.namespace)
	if err := w.start(stopCh); err != nil {
		close(stopCh)
		return platform.Info{}, err
	}
	syncCtx, cancel := context.WithTimeout(ctx, p.opts.SyncTimeout)
	defer cancel()
	if err := w.waitForSync(syncCtx); err != nil {
		close(stopCh)
		return platform.Info{}, err
	}
	p.started, p.stopCh, p.watch = true, stopCh, w
	log.FromContext(ctx).Info("kubernetes platform started", "host", p.host(), "version", ver.GitVersion, "namespaces", p.watchedNamespaces())
	info := p.info()
	info.Details["version"] = ver.GitVersion
	return info, nil
}

func (p *Platform) host() string {
	if p.cfg == nil {
		return ""
	}
	return p.cfg.Host
}

func (p *Platform) info() platform.Info {
	return platform.Info{Details: map[string]string{"cluster": p.host(), "namespace": p.namespace}}
}

// Stop implements platform.Platform: it stops the informers and logs, once,
// what the client asked of the API server (see APIStats). It reverts
// nothing; the engine does that before.
func (p *Platform) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		close(p.stopCh)
		p.watch.shutdown()
		p.started = false
		log.FromContext(ctx).Info("kubernetes informers", "objects", p.watch.received.String())
	}
	if p.api != nil && !p.statsLogged {
		p.statsLogged = true
		s := p.api.snapshot()
		log.FromContext(ctx).Info("kubernetes API client",
			"requests", s.Requests, "peakPerSecond", s.PeakPerSecond, "qps", s.QPS, "burst", s.Burst,
			"status429", s.TooManyRequests(), "throttledWait", s.LimiterWait, "throttledMaxWait", s.LimiterMaxWait,
			"transportErrors", s.TransportErrors, "verbs", s.Verbs(), "statuses", s.Statuses(), "calls", s.Calls())
	}
	return nil
}

// APIStats returns what the platform's client has asked of the API server
// since New: requests by verb and status, the densest second and the time
// spent waiting for the client's rate limiter. A platform not built by New
// returns the zero value.
func (p *Platform) APIStats() APIStats {
	if p.api == nil {
		return APIStats{}
	}
	return p.api.snapshot()
}

// state returns the platform's memory of a fault, creating it.
func (p *Platform) state(id string) *faultState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.faults[id]
	if !ok {
		s = &faultState{first: p.opts.Clock.Now(), killed: map[string]types.UID{}, down: map[string]bool{}}
		p.faults[id] = s
	}
	return s
}

// stateAnd returns the platform's memory of a fault with one of its
// fields read under the lock, such as whether a once-per-fault step is done.
func (p *Platform) stateAnd(id string, read func(*faultState) bool) (*faultState, bool) {
	s := p.state(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	return s, read(s)
}

// note adds an observation about a fault to the report.
func (p *Platform) note(id, format string, args ...any) {
	s := p.state(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(s.notes, msg) {
		s.notes = append(s.notes, msg)
	}
}

// Notes implements platform.Noter: what the platform observed about f,
// including pods that waited for a GPU and services left without ready
// endpoints while the fault was active.
func (p *Platform) Notes(f platform.Fault) []string {
	p.mu.Lock()
	s, ok := p.faults[f.ID]
	var notes []string
	var since time.Time
	if ok {
		notes, since = slices.Clone(s.notes), s.first
	}
	w := p.watch
	p.mu.Unlock()
	if !ok || w == nil {
		return notes
	}
	return append(notes, w.notesSince(since)...)
}

// namespaceAllowed checks a namespace against safety.namespaces.
func (p *Platform) namespaceAllowed(ns string) error {
	if slices.Contains(p.allowed, ns) {
		return nil
	}
	return fmt.Errorf("namespace %s is not in safety.namespaces %v", ns, p.allowed)
}

// errNotStarted is returned by the informer-backed signals before Start.
var errNotStarted = errors.New("kube platform not started")

// podKey is namespace/name.
func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
