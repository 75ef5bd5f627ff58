package procpods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
	"github.com/firedrill/firedrill/pkg/platform/local/proc"
)

// ServiceLinks gives a pod the environment variables of its namespace's
// Services ({NAME}_SERVICE_HOST, {NAME}_SERVICE_PORT, ...), as the kubelet
// does, with the address where this machine serves each Service.
// *netproxy.ServiceProxy implements it.
type ServiceLinks interface {
	ServiceEnv(namespace string) map[string]string
}

// NodeAgentOptions configure a NodeAgent.
type NodeAgentOptions struct {
	// Clientset talks to the cluster. Required.
	Clientset kubernetes.Interface
	// Executables maps the first word of a container's command to a binary
	// on this machine, e.g. {"drill": "/tmp/e2e/drill"}. Required: a pod
	// whose command names no executable here is reported as failing to
	// start (CreateContainerConfigError), never run as something else.
	Executables map[string]string
	// Dir holds a directory per node (hostPath volumes), per pod (emptyDir
	// volumes), per NFS server (nfs volumes, shared by every node) and a
	// log per process (logs/<namespace>_<pod>_<uid>.log). Required.
	Dir string
	// ServiceLinks provides service link variables. Nil means none.
	ServiceLinks ServiceLinks
	// Logger receives what the agent does. Nil discards it.
	Logger *slog.Logger
}

func (o *NodeAgentOptions) validate() error {
	var errs []error
	if o.Clientset == nil {
		errs = append(errs, errors.New("a clientset is required"))
	}
	if len(o.Executables) == 0 {
		errs = append(errs, errors.New("at least one executable is required"))
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("a directory is required"))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return errors.Join(errs...)
}

// NodeAgent stands in for the kubelet of every kwok node, for the pods
// labelled workloads.ProcessLabel: it runs each such pod's container as a real
// process bound to the loopback image of the pod's IP (see podnet.LoopbackImage),
// reports the pod Running and its Ready condition from the container's
// readiness probe, restarts a process that exits by itself (with the
// kubelet's back-off), and when the pod is deleted or evicted runs its
// preStop sleep, sends SIGTERM, sends SIGKILL once the grace period is over,
// and only then deletes the pod (grace period 0), as the kubelet does.
//
// kwok still gives those pods their IPs (its pod-create stage); every other
// kwok pod stage skips them (renderStages). Pods without the label keep
// kwok's simulated lifecycle.
type NodeAgent struct {
	opts    NodeAgentOptions
	spawner *proc.Spawner
	probes  *http.Client

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	stopCh  chan struct{}
	runners map[types.UID]*podRunner
	// holders maps a loopback image to the done channel of the last
	// process bound to it: kwok hands a deleted pod's IP to the next pod
	// at once, and a new process waits for the old one to be gone.
	holders map[string]<-chan struct{}
	records []*ProcessRecord
	wg      sync.WaitGroup
}

// NewNodeAgent validates opts and returns an agent that is not running.
func NewNodeAgent(opts NodeAgentOptions) (*NodeAgent, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid node agent options: %w", err)
	}
	for _, d := range []string{"logs", "nodes", "pods", "nfs"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the node agent's directory: %w", err)
		}
	}
	return &NodeAgent{
		opts:    opts,
		probes:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		runners: map[types.UID]*podRunner{},
		holders: map[string]<-chan struct{}{},
	}, nil
}

// Start watches the pods labelled workloads.ProcessLabel on every node and returns
// once the watch has synced. The agent runs until Stop.
func (a *NodeAgent) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("node agent already started")
	}
	a.started = true
	a.spawner = proc.NewSpawner()
	a.stopCh = make(chan struct{})
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.mu.Unlock()

	factory := informers.NewSharedInformerFactoryWithOptions(a.opts.Clientset, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = workloads.ProcessLabel }))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.observe(rctx, obj) },
		UpdateFunc: func(_, obj any) { a.observe(rctx, obj) },
		DeleteFunc: a.forget,
	})
	if err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	factory.Start(a.stopCh)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("node agent: waiting for the pod watch to sync: %w", ctx.Err())
	}
	a.opts.Logger.Info("node agent started", "dir", a.opts.Dir)
	return nil
}

// Stop ends the watch and kills every process the agent runs (SIGKILL:
// the cluster is going away, nobody is waiting for a graceful stop). It
// is idempotent.
func (a *NodeAgent) Stop(ctx context.Context) error {
	a.mu.Lock()
	if !a.started || a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	close(a.stopCh)
	a.cancel()
	a.mu.Unlock()
	a.wg.Wait()
	if err := a.spawner.Close(ctx); err != nil {
		return fmt.Errorf("stopping the node agent's processes: %w", err)
	}
	return nil
}

// observe hands the latest copy of a scheduled pod to its runner,
// starting one for a pod seen for the first time.
func (a *NodeAgent) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	r, ok := a.runners[pod.UID]
	if !ok {
		r = newPodRunner(a, pod)
		a.runners[pod.UID] = r
		a.wg.Go(func() {
			r.run(ctx)
			a.mu.Lock()
			delete(a.runners, pod.UID)
			a.mu.Unlock()
		})
	}
	r.push(pod)
}

// forget tells a pod's runner that the pod is gone from the API server.
func (a *NodeAgent) forget(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	r := a.runners[pod.UID]
	a.mu.Unlock()
	if r != nil {
		r.markGone()
	}
}

// hold waits until the last process bound to image is gone, then records
// done as its holder.
func (a *NodeAgent) hold(ctx context.Context, image string, done <-chan struct{}) error {
	for {
		a.mu.Lock()
		prev := a.holders[image]
		if prev == nil || isClosed(prev) {
			a.holders[image] = done
			a.mu.Unlock()
			return nil
		}
		a.mu.Unlock()
		select {
		case <-prev:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the previous process on %s: %w", image, ctx.Err())
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// StopReason says how a pod's process ended.
type StopReason string

const (
	// StopExited means the process exited by itself (the kubelet restarts
	// it).
	StopExited StopReason = "exited"
	// StopTerminated means it exited after SIGTERM, within its grace
	// period.
	StopTerminated StopReason = "terminated"
	// StopKilled means it was still running when the grace period ended
	// and was killed with SIGKILL.
	StopKilled StopReason = "killed"
	// StopAgent means the agent was stopped (the test ended).
	StopAgent StopReason = "agent stopped"
)

// ProcessRecord is one run of a pod's process.
type ProcessRecord struct {
	// Namespace, Pod, UID and Node name the pod.
	Namespace, Pod, Node string
	UID                  types.UID
	// PodIP is the pod's IP in the API; Addr is its loopback image, where
	// the process listens.
	PodIP, Addr string
	// Pid is the process id; Restart counts earlier runs in the same pod.
	Pid     int
	Restart int32
	// Started is when the process was started; Ready the first time its
	// readiness probe passed (zero if never).
	Started, Ready time.Time
	// TermSent is when SIGTERM was sent (zero if never); Grace is the
	// grace period it was given (the pod's, less its preStop sleep, at
	// least 2 s as the kubelet allows).
	TermSent time.Time
	Grace    time.Duration
	// Exited is when the process was reaped (zero while it runs); Stop
	// says how; ExitStatus is its wait status.
	Exited     time.Time
	Stop       StopReason
	ExitStatus string
}

// Processes returns a copy of every process run so far, in start order.
func (a *NodeAgent) Processes() []ProcessRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ProcessRecord, 0, len(a.records))
	for _, r := range a.records {
		out = append(out, *r)
	}
	return out
}

// Running returns the records of the processes still running, in start
// order.
func (a *NodeAgent) Running() []ProcessRecord {
	return slices.DeleteFunc(a.Processes(), func(r ProcessRecord) bool { return !r.Exited.IsZero() })
}

// record adds a run's record; the runner changes it later only through
// update, under the agent's lock.
func (a *NodeAgent) record(r *ProcessRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, r)
}

// update changes a record under the agent's lock.
func (a *NodeAgent) update(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}
