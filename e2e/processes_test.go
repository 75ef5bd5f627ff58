//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/procbed"
	"github.com/firedrill/firedrill/pkg/recommender/serve"
)

// procBed is a process-backed cluster: recommenders in two regions and
// the model store, each pod a real process, the Services served by the
// service proxy.
type procBed struct {
	c     *framework.Cluster
	pr    *procbed.Processes
	drill string
	model procbed.Model
}

// startProcBed starts a process-backed cluster with two GPU nodes per
// region and a CPU node for the store, publishes the model and deploys
// replicas recommenders per region.
func startProcBed(ctx context.Context, t *testing.T, replicas int32) *procBed {
	t.Helper()
	b := &procBed{drill: buildDrill(t)}
	b.c = framework.Start(ctx, t, framework.Options{ProcessPods: true})
	// sh runs the test's own misbehaving pods.
	b.pr = procbed.Start(ctx, t, b.c, map[string]string{"drill": b.drill, "sh": "/bin/sh"})
	b.c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", Zone: "us-west-2b", GPUs: 4},
	)
	b.c.CreateNamespace(ctx, t, ns)
	b.c.DeployProcessModelStore(ctx, t, ns, "us-west")
	b.c.WaitReady(ctx, t, ns, framework.ModelStoreName)
	b.model = b.pr.PublishModel(ctx, t, ns, procbed.DefaultModel)
	for _, region := range []string{"us-east", "us-west"} {
		b.c.DeployProcessRecommender(ctx, t, ns, region, replicas)
	}
	for _, region := range []string{"us-east", "us-west"} {
		b.c.WaitReady(ctx, t, ns, framework.RecommenderName(region))
	}
	return b
}

// podModel asks a pod's process which model it serves.
func podModel(ctx context.Context, addr string) (serve.ModelInfo, error) {
	var mi serve.ModelInfo
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+":8080/v1/model", nil)
	if err != nil {
		return mi, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return mi, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return mi, fmt.Errorf("GET /v1/model: %s", resp.Status)
	}
	return mi, json.NewDecoder(resp.Body).Decode(&mi)
}

// get GETs url and returns the status code and body.
func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// TestProcessBackedPods checks the test bed's process-backed pods: every
// Ready pod of a marked Deployment is a real process on its IP's loopback
// image, serving the model it pulled from the model store's pods; the
// EndpointSlice controller publishes them and the service proxy reaches
// them; a deleted pod's process gets SIGTERM and is gone before the pod
// is; unmarked pods keep kwok's simulated lifecycle next to them.
func TestProcessBackedPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	b := startProcBed(ctx, t, 2)
	t.Logf("measure: process-backed bed (control plane, store, model, 4 recommenders) ready in %s", time.Since(begin).Round(time.Millisecond))
	c, pr := b.c, b.pr

	pods := func(t *testing.T, region string) []corev1.Pod {
		t.Helper()
		l, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=recommender,region=" + region})
		require.NoError(t, err)
		return l.Items
	}

	t.Run("every Ready pod is a process serving the store's model on its address", func(t *testing.T) {
		running := pr.Agent.Running()
		for _, region := range []string{"us-east", "us-west"} {
			for _, p := range pods(t, region) {
				require.True(t, strings.HasPrefix(p.Status.PodIP, "10."), "pod IP %s from the pod CIDR %s", p.Status.PodIP, c.PodCIDR())
				image, err := framework.LoopbackImage(p.Status.PodIP)
				require.NoError(t, err)
				i := slices.IndexFunc(running, func(r framework.ProcessRecord) bool { return r.UID == p.UID })
				require.GreaterOrEqual(t, i, 0, "pod %s has a process", p.Name)
				require.Equal(t, image, running[i].Addr)
				require.False(t, running[i].Ready.IsZero())
				mi, err := podModel(ctx, image)
				require.NoError(t, err)
				require.Equal(t, serve.SourceStore, mi.Source, "pod %s pulled its model from the store", p.Name)
				require.Equal(t, b.model.Version, mi.Version)
				require.False(t, mi.Degraded)
			}
		}
	})

	t.Run("the pod processes' memory", func(t *testing.T) {
		for _, r := range pr.Agent.Running() {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.Pid))
			require.NoError(t, err)
			for line := range strings.SplitSeq(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					t.Logf("measure: RSS of %s %s", r.Pod, strings.TrimSpace(v))
				}
			}
		}
	})

	t.Run("the EndpointSlice controller publishes the pods and the proxy reaches them", func(t *testing.T) {
		frontdoor := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontdoor"},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "recommender", "region": "us-east"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		}
		_, err := c.Clientset.CoreV1().Services(ns).Create(ctx, frontdoor, metav1.CreateOptions{})
		require.NoError(t, err)
		var ips []string
		for _, p := range pods(t, "us-east") {
			ips = append(ips, p.Status.PodIP)
		}
		require.Eventually(t, func() bool {
			l, err := c.Clientset.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=frontdoor"})
			if err != nil {
				return false
			}
			var ready []string
			for _, s := range l.Items {
				for _, e := range s.Endpoints {
					if ptr.Deref(e.Conditions.Ready, false) {
						ready = append(ready, e.Addresses...)
					}
				}
			}
			slices.Sort(ready)
			slices.Sort(ips)
			return slices.Equal(ready, ips)
		}, time.Minute, 100*time.Millisecond, "the EndpointSlice lists the pods' IPs as ready")
		url := pr.ServiceURL(ctx, t, ns, "frontdoor", 80)
		require.Eventually(t, func() bool {
			code, body, err := get(ctx, url+"/v1/recommendations?user=u1&k=5")
			return err == nil && code == http.StatusOK && strings.Contains(body, `"results"`)
		}, 30*time.Second, 100*time.Millisecond, "the Service answers through the proxy")
		conns := pr.Proxy.Connections(ns + "/frontdoor")
		require.NotEmpty(t, conns)
		require.True(t, strings.HasPrefix(conns[0].Pod, "recommender-us-east-"), conns[0].Pod)
	})

	t.Run("a deleted pod's process gets SIGTERM and is gone before the pod", func(t *testing.T) {
		victim := pods(t, "us-west")[0]
		deleted := time.Now()
		require.NoError(t, c.Clientset.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}))
		require.Eventually(t, func() bool {
			_, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
			return err != nil
		}, time.Minute, 50*time.Millisecond, "the pod is deleted once its process stopped")
		gone := time.Now()
		procs := pr.Agent.Processes()
		i := slices.IndexFunc(procs, func(r framework.ProcessRecord) bool { return r.UID == victim.UID })
		require.GreaterOrEqual(t, i, 0)
		r := procs[i]
		require.Equal(t, framework.StopTerminated, r.Stop, "the process drained and exited on SIGTERM: %+v", r)
		require.False(t, r.Exited.IsZero())
		require.False(t, r.Exited.After(gone), "the process was gone before the pod")
		require.GreaterOrEqual(t, r.TermSent.Sub(deleted), 900*time.Millisecond, "SIGTERM came after the 1 s preStop sleep")
		t.Logf("measure: pod deleted → SIGTERM %s → process exited %s → pod gone %s",
			r.TermSent.Sub(deleted).Round(time.Millisecond), r.Exited.Sub(deleted).Round(time.Millisecond), gone.Sub(deleted).Round(time.Millisecond))
		c.WaitReady(ctx, t, ns, framework.RecommenderName("us-west"))
	})

	// A bare pod for the agent, on a us-east node.
	bare := func(name string, grace int64, command ...string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{framework.ProcessLabel: "test"}},
			Spec: corev1.PodSpec{
				NodeSelector:                  map[string]string{corev1.LabelTopologyRegion: "us-east"},
				Tolerations:                   []corev1.Toleration{{Key: framework.KwokNodeAnnotation, Operator: corev1.TolerationOpExists}},
				TerminationGracePeriodSeconds: &grace,
				AutomountServiceAccountToken:  ptr.To(false),
				Containers:                    []corev1.Container{{Name: "c", Image: "none", Command: command}},
			},
		}
	}
	podReady := func(name string) func() bool {
		return func() bool {
			p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady {
					return cond.Status == corev1.ConditionTrue
				}
			}
			return false
		}
	}

	t.Run("a process that ignores SIGTERM is killed when its grace period ends", func(t *testing.T) {
		_, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, bare("stubborn", 2, "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"), metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, podReady("stubborn"), time.Minute, 50*time.Millisecond, "a pod without a readiness probe is Ready once its process runs")
		require.NoError(t, c.Clientset.CoreV1().Pods(ns).Delete(ctx, "stubborn", metav1.DeleteOptions{}))
		require.Eventually(t, func() bool {
			_, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, "stubborn", metav1.GetOptions{})
			return err != nil
		}, time.Minute, 50*time.Millisecond)
		procs := pr.Agent.Processes()
		r := procs[slices.IndexFunc(procs, func(r framework.ProcessRecord) bool { return r.Pod == "stubborn" })]
		require.Equal(t, framework.StopKilled, r.Stop, "%+v", r)
		require.Equal(t, 2*time.Second, r.Grace)
		require.InDelta(t, float64(2*time.Second), float64(r.Exited.Sub(r.TermSent)), float64(500*time.Millisecond), "SIGKILL when the grace period ended")
		require.Contains(t, r.ExitStatus, "killed")
	})

	t.Run("a pod the agent cannot run says why and runs nothing", func(t *testing.T) {
		_, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, bare("unknown", 1, "nginx"), metav1.CreateOptions{})
		require.NoError(t, err)
		var msg string
		require.Eventually(t, func() bool {
			p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, "unknown", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			msg = w.Message
			return w.Reason == "CreateContainerConfigError"
		}, time.Minute, 50*time.Millisecond)
		require.Contains(t, msg, `command "nginx" is not one of the agent's executables`)
		require.False(t, slices.ContainsFunc(pr.Agent.Processes(), func(r framework.ProcessRecord) bool { return r.Pod == "unknown" }))
		require.NoError(t, c.Clientset.CoreV1().Pods(ns).Delete(ctx, "unknown", metav1.DeleteOptions{}))
		require.Eventually(t, func() bool {
			_, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, "unknown", metav1.GetOptions{})
			return err != nil
		}, time.Minute, 50*time.Millisecond, "the agent deletes the pod it never ran")
	})

	t.Run("unmarked pods keep kwok's lifecycle next to process pods", func(t *testing.T) {
		d := framework.RecommenderDeployment(ns, "us-east", 1)
		d.Name = "plain"
		d.Spec.Selector.MatchLabels["plain"] = "true"
		d.Spec.Template.Labels["plain"] = "true"
		_, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		require.NoError(t, err)
		c.WaitReady(ctx, t, ns, "plain")
		l, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "plain=true"})
		require.NoError(t, err)
		require.Len(t, l.Items, 1)
		for _, r := range pr.Agent.Processes() {
			require.NotEqual(t, l.Items[0].UID, r.UID, "the agent runs no process for an unmarked pod")
		}
	})
}
