package watch

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

// Sink receives what the watcher observes. It is called from the
// informers' goroutines and must not block for long.
type Sink interface {
	// Replaced says a pod that replaces capacity for fault was first
	// seen at the instant given (see Watcher.Expect).
	Replaced(fault string, at time.Time)
	// Observed is an observation of the cluster for the report: a pod
	// that waits for a GPU, a Service without ready endpoints.
	Observed(msg string)
}

// Options configure a Watcher.
type Options struct {
	// Config reaches the cluster.
	Config *rest.Config
	// HTTPClient, Mapper and Scheme are shared with the platform's
	// client.
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
	Scheme     *runtime.Scheme
	// Clock stamps observations.
	Clock clock.PassiveClock
	// Namespaces are watched for workloads, endpoint slices and Pending
	// pods; nodes are watched cluster-wide.
	Namespaces []string
	// Workloads are the watched workloads, defaulted (kind and
	// namespace set).
	Workloads []v1alpha1.WorkloadRef
	// Sink receives replacements and observations.
	Sink Sink
}

// Watcher holds the informers behind the recovery signals, in one
// controller-runtime cache: nodes cluster-wide and, per watched namespace,
// Deployments, StatefulSets, EndpointSlices and the Pending pods. Pods are
// the bulk of a cluster's churn, and the platform only needs them while
// they are Pending: every pod is created Pending, which is when it is
// first seen (for the replaced instant), and a pod waiting for a GPU is
// Pending. Running pods that are deleted, restarted or become ready send
// nothing, so a 2,000-pod cutover decodes a fraction of its pod events.
// Transforms trim every object before it is cached, and cached objects are
// shared, not copied, on read: nothing here writes to them.
type Watcher struct {
	opts  Options
	cache cache.Cache
	// reader reads the cache (a fake in unit tests).
	reader client.Reader

	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	// seen records when each pod was first observed.
	seen map[types.UID]seenPod
	// expected are the replacements faults wait for.
	expected []*expectation
	// gpuWait records pods that waited for a GPU.
	gpuWait map[types.UID]*gpuWait
	// dark records services that had no ready endpoint.
	dark map[string][]*interval
	// received counts the objects the informers received.
	received objectCounts
}

type seenPod struct {
	namespace string
	labels    map[string]string
	at        time.Time
}

type gpuWait struct {
	pod      string
	message  string
	from, to time.Time
}

type interval struct{ from, to time.Time }

// pendingPods selects the pods that are not running yet.
var pendingPods = fields.OneTermEqualSelector("status.phase", string(corev1.PodPending))

// New builds a watcher and its cache. It asks discovery whether the
// watched kinds are namespaced, but starts nothing.
func New(opts Options) (*Watcher, error) {
	w := &Watcher{opts: opts, seen: map[types.UID]seenPod{}, gpuWait: map[types.UID]*gpuWait{}, dark: map[string][]*interval{}}
	namespaces := map[string]cache.Config{}
	for _, ns := range opts.Namespaces {
		namespaces[ns] = cache.Config{}
	}
	c, err := cache.New(opts.Config, cache.Options{
		HTTPClient: opts.HTTPClient, Scheme: opts.Scheme, Mapper: opts.Mapper,
		DefaultNamespaces: namespaces,
		DefaultTransform:  w.received.counted(stripManagedFields),
		// The watcher only reads, so the cache hands out what it holds.
		DefaultUnsafeDisableDeepCopy: ptr.To(true),
		// A read of a kind nobody watches is a bug, not a new informer.
		ReaderFailOnMissingInformer: true,
		ByObject: map[client.Object]cache.ByObject{
			// Pods are seen as the informer receives them, in its
			// transform, which runs once per pod event in the
			// reflector's goroutine.
			&corev1.Pod{}:  {Field: pendingPods, Transform: w.received.counted(w.seePod)},
			&corev1.Node{}: {Transform: w.received.counted(trimNode)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building the informer cache: %w", err)
	}
	w.cache, w.reader = c, c
	return w, nil
}

// Reader reads the cache.
func (w *Watcher) Reader() client.Reader { return w.reader }

// Start registers the informers and their handlers, starts them and waits
// up to syncTimeout for their first List. The informers run until Stop,
// not until ctx ends.
func (w *Watcher) Start(ctx context.Context, syncTimeout time.Duration) error {
	for _, obj := range []client.Object{&corev1.Node{}, &appsv1.Deployment{}, &appsv1.StatefulSet{}} {
		if _, err := w.cache.GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	pods, err := w.cache.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("watching pending pods: %w", err)
	}
	if _, err := pods.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.observePending,
		UpdateFunc: func(_, obj any) { w.observePending(obj) },
		// A pod leaves the selection when it runs or is deleted.
		DeleteFunc: w.forgetPod,
	}); err != nil {
		return fmt.Errorf("watching pending pods: %w", err)
	}
	eps, err := w.cache.GetInformer(ctx, &discoveryv1.EndpointSlice{})
	if err != nil {
		return fmt.Errorf("watching endpointslices: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if _, err := eps.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.observeSlice(runCtx, obj) },
		UpdateFunc: func(_, obj any) { w.observeSlice(runCtx, obj) },
		DeleteFunc: func(obj any) { w.observeSlice(runCtx, obj) },
	}); err != nil {
		cancel()
		return fmt.Errorf("watching endpointslices: %w", err)
	}
	done := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		defer close(done)
		startErr <- w.cache.Start(runCtx)
	}()
	w.cancel, w.done = cancel, done
	syncCtx, stop := context.WithTimeout(ctx, syncTimeout)
	defer stop()
	if !w.cache.WaitForCacheSync(syncCtx) {
		w.Stop()
		select {
		case err := <-startErr:
			if err != nil {
				return fmt.Errorf("starting the informers: %w", err)
			}
		default:
		}
		return fmt.Errorf("informers for %s did not sync: %w", strings.Join(w.opts.Namespaces, ", "), context.Cause(syncCtx))
	}
	return nil
}

// Stop stops the informers and waits for their goroutines.
func (w *Watcher) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel = nil
}

// Received renders the objects the informers received by resource, as
// "deployments=12 pods(pending)=3400".
func (w *Watcher) Received() string { return w.received.String() }

// seePod is the pending pod informers' transform: it trims the pod
// (trimPendingPod) and records when it was first seen. A pod first seen
// more than 2 s after its creation was listed, not created now, and counts
// from its creationTimestamp. A new pod that a fault waits for is its
// replacement.
func (w *Watcher) seePod(obj any) (any, error) {
	obj, err := trimPendingPod(obj)
	pod, ok := obj.(*corev1.Pod)
	if err != nil || !ok {
		return obj, err
	}
	now := w.opts.Clock.Now()
	w.mu.Lock()
	if _, ok := w.seen[pod.UID]; ok {
		w.mu.Unlock()
		return obj, nil
	}
	at := now
	if now.Sub(pod.CreationTimestamp.Time) > 2*time.Second {
		at = pod.CreationTimestamp.Time
	}
	sp := seenPod{namespace: pod.Namespace, labels: pod.Labels, at: at}
	w.seen[pod.UID] = sp
	met := w.meetLocked(sp)
	w.mu.Unlock()
	for _, e := range met {
		w.opts.Sink.Replaced(e.fault, at)
	}
	return obj, nil
}

// observePending records when a pending pod starts and stops waiting for
// a GPU.
func (w *Watcher) observePending(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := w.opts.Clock.Now()
	msg, waiting := waitsForGPU(pod)
	w.mu.Lock()
	gw := w.gpuWait[pod.UID]
	var note string
	switch {
	case waiting && (gw == nil || !gw.to.IsZero()):
		gw = &gpuWait{pod: objects.PodKey(pod), message: msg, from: now}
		w.gpuWait[pod.UID] = gw
		note = gw.open()
	case !waiting && gw != nil && gw.to.IsZero():
		gw.to = now
		note = gw.closed()
	}
	w.mu.Unlock()
	if note != "" {
		w.opts.Sink.Observed(note)
	}
}

func (w *Watcher) forgetPod(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	gw := w.gpuWait[pod.UID]
	var note string
	if gw != nil && gw.to.IsZero() {
		gw.to = w.opts.Clock.Now()
		note = gw.closed()
	}
	w.mu.Unlock()
	if note != "" {
		w.opts.Sink.Observed(note)
	}
}

func (g *gpuWait) open() string {
	return fmt.Sprintf("pod %s is waiting for a GPU: %s", g.pod, g.message)
}

func (g *gpuWait) closed() string {
	return fmt.Sprintf("pod %s waited for a GPU for %s: %s", g.pod, g.to.Sub(g.from).Round(time.Millisecond), g.message)
}

// gpuShortage is the scheduler's message for a pod no node has a GPU for.
const gpuShortage = "Insufficient " + string(objects.ResourceGPU)

// waitsForGPU says whether the scheduler left the pod Pending because no
// node has a free GPU, with the scheduler's message.
func waitsForGPU(pod *corev1.Pod) (string, bool) {
	if pod.Status.Phase != corev1.PodPending || pod.Spec.NodeName != "" {
		return "", false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, gpuShortage) {
			return c.Message, true
		}
	}
	return "", false
}

// observeSlice records when a Service loses and regains its last ready
// endpoint, counting the ready endpoints of all its slices in the cache.
func (w *Watcher) observeSlice(ctx context.Context, obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	svc := es.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return
	}
	var all discoveryv1.EndpointSliceList
	if err := w.reader.List(ctx, &all, client.InNamespace(es.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: svc}); err != nil {
		return
	}
	ready := 0
	for _, s := range all.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	key := es.Namespace + "/" + svc
	now := w.opts.Clock.Now()
	w.mu.Lock()
	ivs := w.dark[key]
	open := len(ivs) > 0 && ivs[len(ivs)-1].to.IsZero()
	var note string
	switch {
	case ready == 0 && !open:
		w.dark[key] = append(ivs, &interval{from: now})
		note = darkSince(key, now)
	case ready > 0 && open:
		last := ivs[len(ivs)-1]
		last.to = now
		note = fmt.Sprintf("service %s had no ready endpoint for %s", key, last.to.Sub(last.from).Round(time.Millisecond))
	}
	w.mu.Unlock()
	if note != "" {
		w.opts.Sink.Observed(note)
	}
}

func darkSince(key string, from time.Time) string {
	return fmt.Sprintf("service %s has had no ready endpoint since %s", key, from.UTC().Format(time.RFC3339))
}

// Open describes what is still under way: pods that wait for a GPU and
// Services without a ready endpoint, as Observed first described them. A
// fault that starts now hears them too.
func (w *Watcher) Open() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, gw := range w.gpuWait {
		if gw.to.IsZero() {
			out = append(out, gw.open())
		}
	}
	for svc, ivs := range w.dark {
		if last := ivs[len(ivs)-1]; last.to.IsZero() {
			out = append(out, darkSince(svc, last.from))
		}
	}
	slices.Sort(out)
	return out
}
