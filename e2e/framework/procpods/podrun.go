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
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/e2e/framework/podnet"
	"github.com/firedrill/firedrill/pkg/platform/local/proc"
)

const (
	// minimumGrace is the shortest SIGTERM-to-SIGKILL window the kubelet
	// gives a container (kuberuntime's minimumGracePeriodInSeconds), even
	// for a pod deleted with a grace period of 0.
	minimumGrace = 2 * time.Second
	// crashBackoff and maxCrashBackoff are the kubelet's restart back-off
	// for a container that exits by itself.
	crashBackoff    = 10 * time.Second
	maxCrashBackoff = 5 * time.Minute
	// apiTimeout bounds one status patch or delete.
	apiTimeout = 10 * time.Second
)

// podRunner is the agent's goroutine for one pod: it owns the pod's
// process from start to the pod's deletion.
type podRunner struct {
	a   *NodeAgent
	uid types.UID
	ns  string
	pod string

	mu     sync.Mutex
	latest *corev1.Pod
	wake   chan struct{} // a new copy of the pod is in latest
	gone   chan struct{} // the pod is gone from the API server
	goneMu sync.Once

	view containerView
}

func newPodRunner(a *NodeAgent, pod *corev1.Pod) *podRunner {
	return &podRunner{a: a, uid: pod.UID, ns: pod.Namespace, pod: pod.Name, wake: make(chan struct{}, 1), gone: make(chan struct{})}
}

// push hands the runner the latest copy of its pod.
func (r *podRunner) push(pod *corev1.Pod) {
	r.mu.Lock()
	r.latest = pod
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// current is the latest copy of the pod.
func (r *podRunner) current() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest
}

func (r *podRunner) markGone() { r.goneMu.Do(func() { close(r.gone) }) }

func (r *podRunner) log() *slog.Logger {
	return r.a.opts.Logger.With("pod", r.ns+"/"+r.pod, "uid", r.uid)
}

// run drives the pod: wait for its IP, run its process (restarting it when
// it exits by itself) and stop it when the pod is deleted.
func (r *podRunner) run(ctx context.Context) {
	pod, ok := r.waitFor(ctx, func(p *corev1.Pod) bool { return p.Status.PodIP != "" || p.DeletionTimestamp != nil })
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		r.finish(ctx) // deleted before it ever ran
		return
	}
	image, err := podnet.LoopbackImage(pod.Status.PodIP)
	if err == nil {
		var spec *containerProcess
		if spec, err = r.spec(pod, image); err == nil {
			r.runProcess(ctx, spec, image)
			return
		}
	}
	// The pod cannot run here: say so on the pod, as the kubelet does,
	// and wait for someone to delete it.
	r.log().Error("cannot run pod", "err", err)
	r.view = containerView{uid: r.uid, name: pod.Spec.Containers[0].Name, image: pod.Spec.Containers[0].Image,
		waiting: "CreateContainerConfigError", waitingMessage: err.Error(), readySince: time.Now()}
	r.patch(ctx)
	if _, ok := r.waitFor(ctx, func(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }); ok {
		r.finish(ctx)
	}
}

// spec builds the pod's process, with its directories.
func (r *podRunner) spec(pod *corev1.Pod, image string) (*containerProcess, error) {
	var env map[string]string
	if r.a.opts.ServiceLinks != nil {
		env = r.a.opts.ServiceLinks.ServiceEnv(pod.Namespace)
	}
	return buildProcess(pod, podEnv{
		image:       image,
		nodeDir:     filepath.Join(r.a.opts.Dir, "nodes", pod.Spec.NodeName),
		podDir:      filepath.Join(r.a.opts.Dir, "pods", string(pod.UID)),
		nfsDir:      filepath.Join(r.a.opts.Dir, "nfs"),
		executables: r.a.opts.Executables,
		services:    env,
		base:        []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()},
	})
}

// waitFor returns the first copy of the pod that satisfies cond; false
// when the pod is gone or the agent stops first.
func (r *podRunner) waitFor(ctx context.Context, cond func(*corev1.Pod) bool) (*corev1.Pod, bool) {
	for {
		if p := r.current(); p != nil && cond(p) {
			return p, true
		}
		select {
		case <-r.wake:
		case <-r.gone:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// runProcess runs the pod's process until the pod is deleted.
func (r *podRunner) runProcess(ctx context.Context, spec *containerProcess, image string) {
	pod := r.current()
	r.view = containerView{uid: r.uid, name: spec.name, image: pod.Spec.Containers[0].Image, readySince: time.Now()}
	backoff := crashBackoff
	for {
		p, rec, err := r.start(ctx, spec, image, pod)
		if err != nil {
			r.log().Error("starting the pod's process", "err", err)
			r.view.waiting, r.view.waitingMessage = "RunContainerError", err.Error()
			r.patch(ctx)
		} else {
			end := r.serve(ctx, spec, p, rec)
			if end != StopExited {
				r.finish(ctx)
				return
			}
		}
		// The process exited by itself (or did not start): restart it
		// after the back-off unless the pod goes away meanwhile.
		if !r.sleep(ctx, backoff) {
			r.finish(ctx)
			return
		}
		backoff = min(2*backoff, maxCrashBackoff)
		r.view.restarts++
	}
}

// start starts the process once the pod's address is free.
func (r *podRunner) start(ctx context.Context, spec *containerProcess, image string, pod *corev1.Pod) (*proc.Process, *ProcessRecord, error) {
	workDir := filepath.Join(r.a.opts.Dir, "pods", string(pod.UID))
	for _, d := range append([]string{workDir}, spec.dirs...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating volume directory: %w", err)
		}
	}
	// A fresh channel closed when this run is reaped guards the address
	// until then.
	done := make(chan struct{})
	if err := r.a.hold(ctx, image, done); err != nil {
		close(done)
		return nil, nil, err
	}
	logPath := filepath.Join(r.a.opts.Dir, "logs", fmt.Sprintf("%s_%s_%s.log", pod.Namespace, pod.Name, pod.UID))
	p, err := r.a.spawner.Start(ctx, proc.Spec{
		Name: pod.Namespace + "/" + pod.Name, Path: spec.path, Args: spec.args, Env: spec.env,
		Dir: workDir, LogPath: logPath,
	})
	if err != nil {
		close(done)
		return nil, nil, fmt.Errorf("starting %s: %w", spec.path, err)
	}
	go func() {
		<-p.Done()
		close(done)
	}()
	now := time.Now()
	rec := &ProcessRecord{
		Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, Node: pod.Spec.NodeName,
		PodIP: pod.Status.PodIP, Addr: image, Pid: p.Pid(), Restart: r.view.restarts, Started: now,
	}
	r.a.record(rec)
	r.log().Info("started the pod's process", "pid", p.Pid(), "addr", image, "restart", r.view.restarts)
	if r.view.startTime.IsZero() {
		r.view.startTime = now
	}
	r.view.startedAt, r.view.waiting, r.view.waitingMessage, r.view.terminated = now, "", "", nil
	r.setReady(false)
	r.patch(ctx)
	return p, rec, nil
}

// serve probes the running process until it exits by itself (StopExited),
// the pod is deleted (the process is then stopped gracefully) or the agent
// stops.
func (r *podRunner) serve(ctx context.Context, spec *containerProcess, p *proc.Process, rec *ProcessRecord) StopReason {
	pr := newProber(r.a.probes, spec.probe)
	if spec.probe == nil {
		r.setReady(true)
		r.a.update(func() { rec.Ready = time.Now() })
		r.patch(ctx)
	}
	for {
		select {
		case <-p.Done():
			r.exited(ctx, p, rec, StopExited)
			return StopExited
		case <-pr.tick():
			r.probe(ctx, pr, rec)
		case <-r.wake:
			if pod := r.current(); pod.DeletionTimestamp != nil {
				return r.terminate(ctx, spec, p, rec, pr, pod)
			}
		case <-r.gone:
			// Deleted with no grace period: the pod's process still
			// gets the kubelet's minimum.
			return r.terminate(ctx, spec, p, rec, pr, nil)
		case <-ctx.Done():
			_ = p.Kill(context.Background())
			r.exited(ctx, p, rec, StopAgent)
			return StopAgent
		}
	}
}

// terminate stops the process as the kubelet stops a deleted pod's
// container: the preStop sleep, SIGTERM, and SIGKILL once the grace period
// (counted from now, at least minimumGrace) is over. The readiness probe
// keeps running meanwhile, so the pod turns unready when its process
// stops passing it.
func (r *podRunner) terminate(ctx context.Context, spec *containerProcess, p *proc.Process, rec *ProcessRecord, pr *prober, pod *corev1.Pod) StopReason {
	grace := time.Duration(0)
	if pod != nil {
		switch {
		case pod.DeletionGracePeriodSeconds != nil:
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		case pod.Spec.TerminationGracePeriodSeconds != nil:
			grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
		default:
			grace = 30 * time.Second
		}
	}
	r.log().Info("stopping the pod's process", "grace", grace, "preStopSleep", spec.preStopSleep)
	if spec.preStopSleep > 0 && grace > 0 {
		sleep := min(time.Duration(spec.preStopSleep)*time.Second, grace)
		grace -= sleep
		if end, stopped := r.wait(ctx, p, rec, pr, time.Now().Add(sleep)); stopped {
			return r.ended(ctx, p, rec, end)
		}
	}
	grace = max(grace, minimumGrace)
	now := time.Now()
	r.a.update(func() { rec.TermSent, rec.Grace = now, grace })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		r.log().Error("sending SIGTERM", "err", err)
	}
	if end, stopped := r.wait(ctx, p, rec, pr, now.Add(grace)); stopped {
		return r.ended(ctx, p, rec, end)
	}
	r.log().Info("grace period over: SIGKILL", "grace", grace)
	_ = p.Kill(context.WithoutCancel(ctx))
	r.exited(ctx, p, rec, StopKilled)
	return StopKilled
}

// ended records a process that stopped while it was being terminated.
func (r *podRunner) ended(ctx context.Context, p *proc.Process, rec *ProcessRecord, end StopReason) StopReason {
	if end == StopExited {
		end = StopTerminated
		r.exited(ctx, p, rec, end)
	}
	return end
}

// wait probes the process until deadline; true when it ended first
// (StopExited, not yet recorded) or the agent stopped (StopAgent,
// recorded).
func (r *podRunner) wait(ctx context.Context, p *proc.Process, rec *ProcessRecord, pr *prober, deadline time.Time) (StopReason, bool) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		select {
		case <-p.Done():
			return StopExited, true
		case <-t.C:
			return "", false
		case <-pr.tick():
			r.probe(ctx, pr, rec)
		case <-ctx.Done():
			_ = p.Kill(context.Background())
			r.exited(ctx, p, rec, StopAgent)
			return StopAgent, true
		}
	}
}

// exited records the end of a run and reports the container terminated.
func (r *podRunner) exited(ctx context.Context, p *proc.Process, rec *ProcessRecord, how StopReason) {
	<-p.Done()
	now := time.Now()
	status, code := "exit status 0", int32(0)
	var ee interface{ ExitCode() int }
	if err := p.Err(); errors.As(err, &ee) {
		status, code = err.Error(), int32(ee.ExitCode())
	}
	r.a.update(func() { rec.Exited, rec.Stop, rec.ExitStatus = now, how, status })
	r.log().Info("the pod's process ended", "pid", rec.Pid, "how", how, "status", status)
	term := &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: "Completed", Message: status,
		StartedAt: metav1.NewTime(rec.Started), FinishedAt: metav1.NewTime(now),
	}
	if code != 0 {
		term.Reason = "Error"
	}
	r.setReady(false)
	if how == StopExited {
		r.view.lastTerminated = term
		r.view.waiting, r.view.waitingMessage = "CrashLoopBackOff", "the process exited: "+status
	} else {
		r.view.terminated = term
	}
	if how != StopAgent {
		r.patch(ctx)
	}
}

// probe runs the readiness probe once and reports a change.
func (r *podRunner) probe(ctx context.Context, pr *prober, rec *ProcessRecord) {
	ready, changed := pr.run(ctx)
	if !changed {
		return
	}
	if ready {
		r.a.update(func() {
			if rec.Ready.IsZero() {
				rec.Ready = time.Now()
			}
		})
	}
	r.setReady(ready)
	r.patch(ctx)
}

func (r *podRunner) setReady(ready bool) {
	if r.view.ready != ready {
		r.view.ready, r.view.readySince = ready, time.Now()
	}
}

// sleep waits d unless the pod is deleted or the agent stops (false).
func (r *podRunner) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-r.wake:
			if r.current().DeletionTimestamp != nil {
				return false
			}
		case <-r.gone:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// patch writes the pod's status; a pod that is gone is not an error.
func (r *podRunner) patch(ctx context.Context) {
	if isClosed(r.gone) || ctx.Err() != nil {
		return
	}
	data, err := podStatusPatch(r.view)
	if err != nil {
		r.log().Error("building the pod status", "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err = r.a.opts.Clientset.CoreV1().Pods(r.ns).Patch(pctx, r.pod, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		r.log().Error("patching the pod status", "err", err)
	}
}

// finish deletes the pod for good now that its process is gone (grace
// period 0, guarded by its UID), as the kubelet does, and removes its
// directory.
func (r *podRunner) finish(ctx context.Context) {
	defer func() { _ = os.RemoveAll(filepath.Join(r.a.opts.Dir, "pods", string(r.uid))) }()
	if isClosed(r.gone) || ctx.Err() != nil {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	err := r.a.opts.Clientset.CoreV1().Pods(r.ns).Delete(dctx, r.pod, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: ptr.To(r.uid)},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		r.log().Error("deleting the pod", "err", err)
	}
}

// prober runs a readiness probe with its period and thresholds.
type prober struct {
	hc    *http.Client
	p     *httpProbe
	timer *time.Timer
	// ready is the current verdict; successes and failures count the
	// consecutive results that disagree with it.
	ready               bool
	successes, failures int32
}

func newProber(hc *http.Client, p *httpProbe) *prober {
	pr := &prober{hc: hc, p: p}
	if p != nil {
		pr.timer = time.NewTimer(time.Duration(p.initialDelay) * time.Second)
	}
	return pr
}

// tick fires when the probe is due; never without a probe.
func (pr *prober) tick() <-chan time.Time {
	if pr.timer == nil {
		return nil
	}
	return pr.timer.C
}

// run probes once and schedules the next probe; it returns the verdict
// and whether it changed.
func (pr *prober) run(ctx context.Context) (bool, bool) {
	ok := pr.get(ctx)
	pr.timer.Reset(time.Duration(pr.p.period) * time.Second)
	return pr.verdict(ok)
}

// verdict folds one probe result into the verdict, with the probe's
// success and failure thresholds; it returns the verdict and whether it
// changed.
func (pr *prober) verdict(ok bool) (bool, bool) {
	switch {
	case ok && !pr.ready:
		pr.failures = 0
		pr.successes++
		if pr.successes >= pr.p.successThreshold {
			pr.ready, pr.successes = true, 0
			return true, true
		}
	case !ok && pr.ready:
		pr.successes = 0
		pr.failures++
		if pr.failures >= pr.p.failureThreshold {
			pr.ready, pr.failures = false, 0
			return false, true
		}
	default:
		pr.successes, pr.failures = 0, 0
	}
	return pr.ready, false
}

// get is one HTTP probe: a status in [200, 400) passes, as for the
// kubelet.
func (pr *prober) get(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(pr.p.timeout)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pr.p.url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	resp, err := pr.hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}
