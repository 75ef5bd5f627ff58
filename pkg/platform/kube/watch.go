package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/slo"
)

// gpuShortage is the scheduler's message for a pod no node has a GPU for.
const gpuShortage = "Insufficient " + string(ResourceGPU)

// watcher holds the informers behind the recovery signals: a cluster-wide
// node informer and, per watched namespace, deployments, statefulsets,
// endpointslices and the Pending pods. Pods are the bulk of a cluster's
// churn, and the platform only needs them while they are Pending: every pod
// is created Pending, which is when it is first seen (for the replaced
// instant), and a pod waiting for a GPU is Pending. Running pods that are
// deleted, restarted or become ready send nothing, so a 2,000-pod cutover
// decodes a fraction of its pod events.
type watcher struct {
	clk       clock.PassiveClock
	workloads []v1alpha1.WorkloadRef
	defaultNS string

	nodes informers.SharedInformerFactory
	perNS map[string]informers.SharedInformerFactory
	// pending watch the Pending pods, per namespace.
	pending map[string]informers.SharedInformerFactory

	mu sync.Mutex
	// seen records when each pod was first observed.
	seen map[types.UID]seenPod
	// gpuWait records pods that waited for a GPU.
	gpuWait map[types.UID]*gpuWait
	// dark records services that had no ready endpoint.
	dark map[string][]*interval
	// received counts the objects the informers received.
	received objectCounts
}

type seenPod struct {
	namespace string
	name      string
	labels    map[string]string
	at        time.Time
}

type gpuWait struct {
	pod      string
	message  string
	from, to time.Time
}

type interval struct{ from, to time.Time }

// podsResource is the resource of pods, for the metadata client.
var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// pendingPods selects the pods that are not running yet.
var pendingPods = fields.OneTermEqualSelector("status.phase", string(corev1.PodPending)).String()

func newWatcher(cs kubernetes.Interface, clk clock.PassiveClock, namespaces []string, workloads []v1alpha1.WorkloadRef, defaultNS string) *watcher {
	w := &watcher{
		clk: clk, workloads: workloads, defaultNS: defaultNS,
		perNS:   map[string]informers.SharedInformerFactory{},
		pending: map[string]informers.SharedInformerFactory{},
		seen:    map[types.UID]seenPod{}, gpuWait: map[types.UID]*gpuWait{}, dark: map[string][]*interval{},
	}
	w.nodes = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(w.received.counted(trimNode)))
	for _, ns := range namespaces {
		w.perNS[ns] = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
			informers.WithTransform(w.received.counted(stripManagedFields)))
		// Pods are seen as the informer receives them, in its transform,
		// which runs once per pod event in the reflector's goroutine.
		w.pending[ns] = informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
			informers.WithTransform(w.received.counted(w.seePod)),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = pendingPods }))
	}
	return w
}

// start registers the informers and their handlers and starts them.
func (w *watcher) start(stopCh <-chan struct{}) error {
	w.nodes.Core().V1().Nodes().Informer()
	for ns, f := range w.perNS {
		if _, err := w.pending[ns].Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    w.observePending,
			UpdateFunc: func(_, obj any) { w.observePending(obj) },
			// A pod leaves the selection when it runs or is deleted.
			DeleteFunc: w.forgetPod,
		}); err != nil {
			return fmt.Errorf("watching pending pods in %s: %w", ns, err)
		}
		f.Apps().V1().Deployments().Informer()
		f.Apps().V1().StatefulSets().Informer()
		eps := f.Discovery().V1().EndpointSlices()
		if _, err := eps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.observeSlice(ns, obj) },
			UpdateFunc: func(_, obj any) { w.observeSlice(ns, obj) },
			DeleteFunc: func(obj any) { w.observeSlice(ns, obj) },
		}); err != nil {
			return fmt.Errorf("watching endpointslices in %s: %w", ns, err)
		}
		f.Start(stopCh)
		w.pending[ns].Start(stopCh)
	}
	w.nodes.Start(stopCh)
	return nil
}

// waitForSync waits until every informer listed once.
func (w *watcher) waitForSync(ctx context.Context) error {
	var unsynced []string
	note := func(name string, ok bool) {
		if !ok {
			unsynced = append(unsynced, name)
		}
	}
	for typ, ok := range w.nodes.WaitForCacheSync(ctx.Done()) {
		note(typ.String(), ok)
	}
	for ns, f := range w.perNS {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			note(ns+" "+typ.String(), ok)
		}
		for typ, ok := range w.pending[ns].WaitForCacheSync(ctx.Done()) {
			note(ns+" pending "+typ.String(), ok)
		}
	}
	if len(unsynced) > 0 {
		slices.Sort(unsynced)
		return fmt.Errorf("informers for %s did not sync: %w", strings.Join(unsynced, ", "), context.Cause(ctx))
	}
	return nil
}

// shutdown waits for the informers' goroutines after their stop channel
// was closed.
func (w *watcher) shutdown() {
	w.nodes.Shutdown()
	for ns, f := range w.perNS {
		f.Shutdown()
		w.pending[ns].Shutdown()
	}
}

// seePod is the pending pod informers' transform: it trims the pod
// (trimPendingPod) and records when it was first seen. A pod first seen
// more than 2 s after its creation was listed, not created now, and counts
// from its creationTimestamp.
func (w *watcher) seePod(obj any) (any, error) {
	obj, err := trimPendingPod(obj)
	pod, ok := obj.(*corev1.Pod)
	if err != nil || !ok {
		return obj, err
	}
	now := w.clk.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.seen[pod.UID]; ok {
		return obj, nil
	}
	at := now
	if now.Sub(pod.CreationTimestamp.Time) > 2*time.Second {
		at = pod.CreationTimestamp.Time
	}
	w.seen[pod.UID] = seenPod{namespace: pod.Namespace, name: pod.Name, labels: pod.Labels, at: at}
	return obj, nil
}

// observePending records when a pending pod starts and stops waiting for
// a GPU.
func (w *watcher) observePending(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := w.clk.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	msg, waiting := waitsForGPU(pod)
	gw := w.gpuWait[pod.UID]
	switch {
	case waiting && (gw == nil || !gw.to.IsZero()):
		w.gpuWait[pod.UID] = &gpuWait{pod: podKey(pod), message: msg, from: now}
	case !waiting && gw != nil && gw.to.IsZero():
		gw.to = now
	}
}

func (w *watcher) forgetPod(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if gw := w.gpuWait[pod.UID]; gw != nil && gw.to.IsZero() {
		gw.to = w.clk.Now()
	}
}

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

func (w *watcher) observeSlice(ns string, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
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
	f, ok := w.perNS[ns]
	if !ok {
		return
	}
	all, err := f.Discovery().V1().EndpointSlices().Lister().EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc}))
	if err != nil {
		return
	}
	ready := 0
	for _, s := range all {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
	}
	key := ns + "/" + svc
	now := w.clk.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	ivs := w.dark[key]
	open := len(ivs) > 0 && ivs[len(ivs)-1].to.IsZero()
	switch {
	case ready == 0 && !open:
		w.dark[key] = append(ivs, &interval{from: now})
	case ready > 0 && open:
		ivs[len(ivs)-1].to = now
	}
}

// notesSince describes GPU waits and endpoint outages that overlap
// [since, now].
func (w *watcher) notesSince(since time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, gw := range w.gpuWait {
		if !gw.to.IsZero() && gw.to.Before(since) {
			continue
		}
		state := "still Pending"
		if !gw.to.IsZero() {
			state = fmt.Sprintf("for %s", gw.to.Sub(gw.from).Round(time.Millisecond))
		}
		out = append(out, fmt.Sprintf("pod %s waited for a GPU (%s): %s", gw.pod, state, gw.message))
	}
	for svc, ivs := range w.dark {
		for _, iv := range ivs {
			if !iv.to.IsZero() && iv.to.Before(since) {
				continue
			}
			if iv.to.IsZero() {
				out = append(out, fmt.Sprintf("service %s has had no ready endpoint since %s", svc, iv.from.UTC().Format(time.RFC3339)))
				continue
			}
			out = append(out, fmt.Sprintf("service %s had no ready endpoint for %s", svc, iv.to.Sub(iv.from).Round(time.Millisecond)))
		}
	}
	slices.Sort(out)
	return out
}

// ref completes a workload reference with its defaults.
func (w *watcher) ref(r v1alpha1.WorkloadRef) v1alpha1.WorkloadRef {
	if r.Kind == "" {
		r.Kind = v1alpha1.WorkloadDeployment
	}
	if r.Namespace == "" {
		r.Namespace = w.defaultNS
	}
	return r
}

// workloadName names a workload in capacity points: Kind/namespace/name.
func workloadName(r v1alpha1.WorkloadRef) string {
	return string(r.Kind) + "/" + r.Namespace + "/" + r.Name
}

// capacity reports desired versus ready replicas of each watched workload.
// A workload the drill scaled down counts its replicas from before the
// fault as desired: scaling to zero is lost capacity, not a new target. A
// workload that does not exist is an error here (capacityPresent, for a
// fleet, tells it apart).
func (w *watcher) capacity(now time.Time) ([]slo.CapacityPoint, error) {
	out, missing, err := w.capacityPresent(now, "")
	var errs []string
	for _, name := range missing {
		errs = append(errs, name+" not found")
	}
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("capacity: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

func describeGetError(r v1alpha1.WorkloadRef, err error) string {
	if apierrors.IsNotFound(err) {
		return workloadName(r) + " not found"
	}
	return workloadName(r) + ": " + err.Error()
}

// selectors are the pod selectors of the watched workloads, by namespace.
func (w *watcher) selectors() map[string][]labels.Selector {
	out := map[string][]labels.Selector{}
	for _, r := range w.workloads {
		r = w.ref(r)
		f, ok := w.perNS[r.Namespace]
		if !ok {
			continue
		}
		var sel *metav1.LabelSelector
		switch r.Kind {
		case v1alpha1.WorkloadDeployment:
			if d, err := f.Apps().V1().Deployments().Lister().Deployments(r.Namespace).Get(r.Name); err == nil {
				sel = d.Spec.Selector
			}
		case v1alpha1.WorkloadStatefulSet:
			if s, err := f.Apps().V1().StatefulSets().Lister().StatefulSets(r.Namespace).Get(r.Name); err == nil {
				sel = s.Spec.Selector
			}
		}
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && sel != nil && !s.Empty() {
			out[r.Namespace] = append(out[r.Namespace], s)
		}
	}
	return out
}

// replaced is the first instant at or after since a pod of a watched
// workload (or matching extra, in namespace extraNS) was first seen.
func (w *watcher) replaced(since time.Time, extraNS string, extra labels.Selector) *time.Time {
	sels := w.selectors()
	if extra != nil && !extra.Empty() {
		sels[extraNS] = append(sels[extraNS], extra)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var first *time.Time
	for _, sp := range w.seen {
		if sp.at.Before(since) {
			continue
		}
		if !slices.ContainsFunc(sels[sp.namespace], func(s labels.Selector) bool { return s.Matches(labels.Set(sp.labels)) }) {
			continue
		}
		if first == nil || sp.at.Before(*first) {
			at := sp.at
			first = &at
		}
	}
	return first
}

// Capacity implements platform.Platform from the informers' caches.
func (p *Platform) Capacity(context.Context) ([]slo.CapacityPoint, error) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w == nil {
		return nil, errNotStarted
	}
	return w.capacity(p.opts.Clock.Now())
}

// Replaced implements platform.ReplacementReporter: the first pod of a
// watched workload (or, for a pod kill, matching its selector) created at
// or after since.
func (p *Platform) Replaced(_ context.Context, f platform.Fault, since time.Time) (*time.Time, error) {
	p.mu.Lock()
	w := p.watch
	p.mu.Unlock()
	if w == nil {
		return nil, errNotStarted
	}
	var extra labels.Selector
	ns := p.namespace
	if pk := f.Spec.PodKill; pk != nil && pk.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(pk.Selector)
		if err != nil {
			return nil, fmt.Errorf("pod selector: %w", err)
		}
		extra = s
		if pk.Namespace != "" {
			ns = pk.Namespace
		}
	}
	p.mu.Lock()
	if s, ok := p.faults[f.ID]; ok && s.first.Before(since) {
		since = s.first // a replacement can appear before the last target was hit
	}
	p.mu.Unlock()
	return w.replaced(since, ns, extra), nil
}
