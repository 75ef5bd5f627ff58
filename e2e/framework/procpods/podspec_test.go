package procpods

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/firedrill/firedrill/e2e/framework/workloads"
)

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"POD_IP": "127.1.2.3", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ name, in, want string }{
		{"a defined variable is replaced", "--addr=$(POD_IP):8080", "--addr=127.1.2.3:8080"},
		{"an undefined variable is kept as written", "$(NOPE)/x", "$(NOPE)/x"},
		{"$$ escapes a reference", "$$(POD_IP)", "$(POD_IP)"},
		{"a lone $ stays", "cost $5 and $", "cost $5 and $"},
		{"an unterminated reference stays", "$(POD_IP", "$(POD_IP"},
		{"an empty value is a value", "[$(EMPTY)]", "[]"},
		{"several references", "$(POD_IP)-$(POD_IP)", "127.1.2.3-127.1.2.3"},
		{"no $ at all", "plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, expandVars(tt.in, lookup))
		})
	}
}

// processPod is a pod like ProcessRecommenderDeployment's, scheduled.
func processPod() *corev1.Pod {
	d := workloads.ProcessRecommenderDeployment("recsys", "us-east", 1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "recommender-us-east-abc", UID: "uid-1", Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
		Status:     corev1.PodStatus{PodIP: "10.77.12.5"},
	}
}

func TestBuildProcessRunsTheContainerAsAKubeletWould(t *testing.T) {
	pod := processPod()
	pod.Spec.NodeName = "gpu-east-1"
	dir := t.TempDir()
	pe := podEnv{
		image: "127.77.12.5", nodeDir: filepath.Join(dir, "nodes", "gpu-east-1"), podDir: filepath.Join(dir, "pods", "uid-1"), nfsDir: filepath.Join(dir, "nfs"),
		executables: map[string]string{"drill": "/bin/drill"},
		services:    map[string]string{"MODEL_STORE_SERVICE_HOST": "127.0.0.1", "MODEL_STORE_SERVICE_PORT": "40001"},
		base:        []string{"PATH=/bin"},
	}
	p, err := buildProcess(pod, pe)
	require.NoError(t, err)
	require.Equal(t, "/bin/drill", p.path)
	cache := filepath.Join(dir, "nodes", "gpu-east-1", "var", "cache", "firedrill")
	require.Equal(t, []string{
		"recommender", "serve",
		"--addr=127.77.12.5:8080",
		"--model-ref=127.0.0.1:40001/recommender:prod",
		"--cache-dir=" + cache,
		"--poll-interval=5s", "--store-timeout=1s", "--drain-timeout=2s",
	}, p.args)
	require.Equal(t, []string{cache}, p.dirs)
	require.Contains(t, p.env, "POD_IP=127.77.12.5", "the downward API gives the pod's address")
	require.Contains(t, p.env, "MODEL_STORE_SERVICE_PORT=40001")
	require.Contains(t, p.env, "HOSTNAME=recommender-us-east-abc")
	require.Equal(t, &httpProbe{url: "http://127.77.12.5:8080/readyz", period: 1, timeout: 1, successThreshold: 1, failureThreshold: 1}, p.probe)
	require.Equal(t, int64(1), p.preStopSleep)
}

func TestBuildProcessRefusesWhatItCannotRun(t *testing.T) {
	pe := podEnv{image: "127.1.1.1", executables: map[string]string{"drill": "/bin/drill"}}
	tests := []struct {
		name   string
		change func(*corev1.Pod)
		want   string
	}{
		{"an unknown command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"nginx"} }, `command "nginx"`},
		{"no command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = nil }, "a command is required"},
		{"two containers", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }, "2 containers"},
		{"a liveness probe", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = &corev1.Probe{} }, "liveness"},
		{"a projected volume", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}})
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "token", MountPath: "/var/run/secrets"})
		}, "volume token"},
		{"an env from a secret", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{}}})
		}, "env X"},
		{"a tcp readiness probe", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}}
		}, "other than httpGet"},
		{"an exec preStop hook", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{}}}
		}, "preStop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := processPod()
			tt.change(pod)
			_, err := buildProcess(pod, pe)
			require.ErrorIs(t, err, errUnsupported)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRewritePaths(t *testing.T) {
	mounts := []mount{{path: "/var/lib/registry/blobs", dir: "/h/blobs"}, {path: "/var/lib/registry", dir: "/h/reg"}}
	tests := []struct{ name, in, want string }{
		{"the mount path itself", "/var/lib/registry", "/h/reg"},
		{"a path under it", "/var/lib/registry/docker/x", "/h/reg/docker/x"},
		{"the innermost mount wins", "/var/lib/registry/blobs/sha", "/h/blobs/sha"},
		{"a --flag=path argument", "--root=/var/lib/registry", "--root=/h/reg"},
		{"a mere prefix of a name is not a path under it", "/var/lib/registry2", "/var/lib/registry2"},
		{"another path", "/etc/x", "/etc/x"},
		{"not a path", "--addr=1.2.3.4:5", "--addr=1.2.3.4:5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, rewritePaths(tt.in, mounts))
		})
	}
}

func TestPodStatusPatch(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		view      containerView
		wantPhase any
		wantReady string
		wantState string
	}{
		{
			name:      "a started, unready process is Running but not Ready",
			view:      containerView{uid: "u", name: "c", startTime: start, startedAt: start, readySince: start},
			wantPhase: "Running", wantReady: "False", wantState: "running",
		},
		{
			name:      "a ready process makes the pod Ready",
			view:      containerView{uid: "u", name: "c", startTime: start, startedAt: start, ready: true, readySince: start},
			wantPhase: "Running", wantReady: "True", wantState: "running",
		},
		{
			name:      "a pod that cannot start stays Pending and says why",
			view:      containerView{uid: "u", name: "c", waiting: "CreateContainerConfigError", waitingMessage: "no", readySince: start},
			wantPhase: nil, wantReady: "False", wantState: "waiting",
		},
		{
			name:      "a stopped process is terminated",
			view:      containerView{uid: "u", name: "c", startTime: start, terminated: &corev1.ContainerStateTerminated{ExitCode: 0}, readySince: start},
			wantPhase: "Running", wantReady: "False", wantState: "terminated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := podStatusPatch(tt.view)
			require.NoError(t, err)
			var patch struct {
				Metadata struct{ UID string } `json:"metadata"`
				Status   struct {
					Phase             any                   `json:"phase"`
					Conditions        []corev1.PodCondition `json:"conditions"`
					ContainerStatuses []map[string]any      `json:"containerStatuses"`
				} `json:"status"`
			}
			require.NoError(t, json.Unmarshal(data, &patch))
			require.Equal(t, "u", patch.Metadata.UID, "the patch is guarded by the pod's UID")
			require.Equal(t, tt.wantPhase, patch.Status.Phase)
			require.Len(t, patch.Status.Conditions, 2)
			for _, c := range patch.Status.Conditions {
				require.Contains(t, []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady}, c.Type)
				require.Equal(t, tt.wantReady, string(c.Status))
			}
			require.Len(t, patch.Status.ContainerStatuses, 1)
			state := patch.Status.ContainerStatuses[0]["state"].(map[string]any)
			require.Contains(t, state, tt.wantState)
			require.Len(t, state, 1)
		})
	}
}

func TestProberThresholds(t *testing.T) {
	pr := &prober{p: &httpProbe{successThreshold: 2, failureThreshold: 3}}
	results := []bool{true, false, true, true, false, false, true, false, false, false}
	want := []bool{false, false, false, true, true, true, true, true, true, false}
	for i, ok := range results {
		got, _ := pr.verdict(ok)
		require.Equal(t, want[i], got, "after probe %d", i)
	}
}
