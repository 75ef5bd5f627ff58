//go:build e2e && scale

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/e2e/framework/bulk"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// Knobs of the scale benchmark, read from the environment so that
// `make bench-kube` and a hand run share one test.
const (
	// scaleNodesEnv is the number of GPU nodes per region (default 100).
	scaleNodesEnv = "FIREDRILL_SCALE_NODES"
	// scalePodsEnv is the number of GPU pods in the cluster (default 2000),
	// half per region.
	scalePodsEnv = "FIREDRILL_SCALE_PODS"
	// scaleMethodsEnv lists the cutover methods to run, comma separated
	// (default "drain,scaleToZero").
	scaleMethodsEnv = "FIREDRILL_SCALE_METHODS"
	// scaleDrillEnv is a prebuilt drill binary to measure (default: build
	// ./cmd/drill).
	scaleDrillEnv = "FIREDRILL_DRILL_BIN"
	// scaleOutEnv is a file to write the results to as JSON.
	scaleOutEnv = "FIREDRILL_SCALE_OUT"
	// scaleWorkDirEnv keeps the cluster's work dir (logs) at this path.
	scaleWorkDirEnv = "FIREDRILL_SCALE_WORKDIR"
)

const (
	scaleNS       = "fleet"
	scaleFrom     = "us-east"
	scaleTo       = "us-west"
	fleetsPerArea = 10 // Deployments per region
	gpusPerNode   = 16
)

// scaleResult is what one drill run cost the drill process.
type scaleResult struct {
	Method      string        `json:"method"`
	Nodes       int           `json:"nodes"`
	Pods        int           `json:"pods"`
	Targets     int           `json:"targets"`
	ExitCode    int           `json:"exitCode"`
	Wall        time.Duration `json:"wall"`
	CPUUser     time.Duration `json:"cpuUser"`
	CPUSys      time.Duration `json:"cpuSys"`
	MaxRSSBytes int64         `json:"maxRSSBytes"`
	InjectWait  time.Duration `json:"injectWait"` // step start to first inject
	// Inject is report.json's injected (when the fault took effect, or
	// when the last target was down, depending on the engine) minus the
	// first inject; InjectToRevert is the first revert minus the first
	// inject, which is the time the engine spent injecting every target
	// whenever that exceeds the fault's duration (10 s).
	Inject         time.Duration `json:"inject"`
	InjectToRevert time.Duration `json:"injectToRevert"`
	Revert         time.Duration `json:"revert"`
	AfterRevert    string        `json:"afterRevertRecovery"`
	APIClient      apiClientLine `json:"apiClient"`
	// CPUPhases splits the drill's CPU time by phase of the run, from
	// /proc/<pid>/stat sampled every 100 ms (so within 10 ms ticks and one
	// sample interval of the phase's edges).
	CPUPhases []cpuPhase `json:"cpuPhases"`
	// InformerObjects is the platform's "kubernetes informers" record:
	// the objects its informers received, listed or watched, by resource.
	InformerObjects string `json:"informerObjects"`
	LoadAvgBefore   string `json:"loadAvgBefore"`
	LoadAvgAfter    string `json:"loadAvgAfter"`
}

// apiClientLine is the "kubernetes API client" record the kube platform
// logs at Stop (pkg/platform/kube/apistats.go), as JSON.
type apiClientLine struct {
	Requests         int64   `json:"requests"`
	PeakPerSecond    int     `json:"peakPerSecond"`
	QPS              float64 `json:"qps"`
	Burst            int     `json:"burst"`
	Status429        int64   `json:"status429"`
	ThrottledWait    int64   `json:"throttledWait"`
	ThrottledMaxWait int64   `json:"throttledMaxWait"`
	TransportErrors  int64   `json:"transportErrors"`
	Verbs            string  `json:"verbs"`
	Statuses         string  `json:"statuses"`
	Calls            string  `json:"calls"`
}

// envInt reads a positive integer knob.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s=%q", name, v)
	require.Positive(t, n, "%s", name)
	return n
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// TestKubernetesScale is the Kubernetes scale benchmark (docs/benchmarks.md,
// "Kubernetes at scale"): 2×FIREDRILL_SCALE_NODES kwok GPU nodes in two
// regions, FIREDRILL_SCALE_PODS GPU pods, then the real drill binary cuts
// the us-east region over to us-west, once per method. For each run it
// reports the drill process's CPU time and peak RSS (from its rusage), the
// inject and revert wall times (from report.json) and what its Kubernetes
// client asked of the API server (from the platform's log record).
//
// The fixture is built with the test bed's admin client (100 QPS); only
// the drill's own client is measured, at its defaults of 50 QPS, burst 100.
func TestKubernetesScale(t *testing.T) {
	perRegion := envInt(t, scaleNodesEnv, 100)
	pods := envInt(t, scalePodsEnv, 2000)
	methods := strings.Split(envOr(scaleMethodsEnv, "drain,scaleToZero"), ",")
	require.Zero(t, pods%(2*fleetsPerArea), "%s must be a multiple of %d", scalePodsEnv, 2*fleetsPerArea)
	require.LessOrEqual(t, pods/2, perRegion*gpusPerNode, "not enough GPUs for %d pods per region", pods/2)

	ctx, cancel := context.WithTimeout(t.Context(), 75*time.Minute)
	defer cancel()
	drill := os.Getenv(scaleDrillEnv)
	if drill == "" {
		drill = buildDrill(t)
	}
	c := framework.Start(ctx, t, framework.Options{
		PodStartDelay: 2 * time.Second,
		// The controllers and kwok must keep up with thousands of pods;
		// their defaults (20 QPS for the controller manager, 4 pods at a
		// time in kwok) would make the fixture, not firedrill, the slow
		// part.
		ComponentQPS: 300, ComponentBurst: 600, KwokParallelism: 32,
		WorkDir: os.Getenv(scaleWorkDirEnv),
	})

	specs := append(bulk.RegionNodes(scaleFrom, perRegion, gpusPerNode), bulk.RegionNodes(scaleTo, perRegion, gpusPerNode)...)
	took := bulk.AddNodes(ctx, t, c, specs)
	t.Logf("measure: %d nodes created and Ready in %s", len(specs), took.Round(time.Millisecond))

	c.CreateNamespace(ctx, t, scaleNS)
	var deps []*appsv1.Deployment
	var pdbs []*policyv1.PodDisruptionBudget
	var workloads []string
	replicas := int32(pods / (2 * fleetsPerArea))
	for _, region := range []string{scaleFrom, scaleTo} {
		for i := range fleetsPerArea {
			d := framework.GPUFleetDeployment(scaleNS, fmt.Sprintf("model-%02d-%s", i, region), region, replicas, 1)
			deps = append(deps, d)
			pdbs = append(pdbs, framework.FleetPDB(d, "100%"))
			workloads = append(workloads, fmt.Sprintf("{kind: Deployment, name: %s}", d.Name))
		}
	}
	begin := time.Now()
	bulk.CreateAll(ctx, t, c, deps, pdbs)
	bulk.WaitAllReady(ctx, t, c, scaleNS, 20*time.Minute)
	t.Logf("measure: %d GPU pods in %d Deployments created and Ready in %s (%s)",
		pods, len(deps), time.Since(begin).Round(time.Millisecond), bulk.PodPhases(ctx, c, scaleNS))
	if rss, err := c.MemoryRSS(); err == nil {
		t.Logf("measure: control plane RSS %v MiB", mib(rss))
	}

	endpoint := okEndpoint(t)
	var results []scaleResult
	for _, method := range methods {
		t.Run(method, func(t *testing.T) {
			res := runScaleDrill(ctx, t, c, drill, endpoint, method, workloads)
			res.Nodes, res.Pods = len(specs), pods
			results = append(results, res)
			t.Logf("measure: %s cutover of %d targets: drill CPU %s (user %s + sys %s), wall %s, step start to first inject %s, inject (report) %s, first inject to first revert %s, revert %s, after-revert recovery %s, max RSS %.1f MiB, exit %d, load %s → %s",
				method, res.Targets, (res.CPUUser + res.CPUSys).Round(time.Millisecond), res.CPUUser.Round(time.Millisecond), res.CPUSys.Round(time.Millisecond),
				res.Wall.Round(time.Millisecond), res.InjectWait.Round(time.Millisecond), res.Inject.Round(time.Millisecond), res.InjectToRevert.Round(time.Millisecond), res.Revert.Round(time.Millisecond), res.AfterRevert,
				float64(res.MaxRSSBytes)/(1<<20), res.ExitCode, res.LoadAvgBefore, res.LoadAvgAfter)
			a := res.APIClient
			t.Logf("measure: %s API client: %d requests, peak %d/s (qps %g, burst %d), 429s %d, throttled %s (longest %s), transport errors %d; verbs %s; statuses %s",
				method, a.Requests, a.PeakPerSecond, a.QPS, a.Burst, a.Status429, time.Duration(a.ThrottledWait).Round(time.Millisecond),
				time.Duration(a.ThrottledMaxWait).Round(time.Millisecond), a.TransportErrors, a.Verbs, a.Statuses)
			t.Logf("measure: %s API calls: %s", method, a.Calls)
			t.Logf("measure: %s informer objects received: %s", method, res.InformerObjects)
			phases := make([]string, len(res.CPUPhases))
			for i, ph := range res.CPUPhases {
				phases[i] = fmt.Sprintf("%s %s CPU in %s", ph.Name, ph.CPU.Round(10*time.Millisecond), ph.Wall.Round(100*time.Millisecond))
			}
			t.Logf("measure: %s drill CPU by phase: %s", method, strings.Join(phases, "; "))

			// The next run starts from a whole cluster again.
			took := bulk.WaitAllReady(ctx, t, c, scaleNS, 20*time.Minute)
			t.Logf("measure: %s: all Deployments ready again %s after drill exited", method, took.Round(time.Millisecond))
			nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			for _, n := range nodes.Items {
				require.False(t, n.Spec.Unschedulable, "node %s left cordoned", n.Name)
				require.Empty(t, n.Annotations["firedrill.dev/run-id"], "node %s keeps firedrill's marks", n.Name)
			}
		})
	}
	if out := os.Getenv(scaleOutEnv); out != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out, b, 0o644))
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func mib(m map[string]uint64) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = int(v >> 20)
	}
	return out
}

// runScaleDrill runs drill once with a region cutover by method and
// returns what it cost.
func runScaleDrill(ctx context.Context, t *testing.T, c *framework.Cluster, drill, endpoint, method string, workloads []string) scaleResult {
	t.Helper()
	name := "scale-" + strings.ToLower(method)
	plan := writePlan(t, fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [%s]
  load: {rate: 10, timeout: 500ms, requests: [{path: /}]}
  objectives: {rto: 5m, recovered: {for: 1s}}
  safety: {maxPodsPercent: 100, maxNodes: 1000, namespaces: [%s]}
  steps:
    - {name: baseline, wait: 2s}
    - name: cutover
      fault:
        regionCutover:
          from: %s
          to: %s
          method: %s
          traffic: manual
          switch: {command: ["true"]}
        duration: 10s
`, name, scaleNS, endpoint, strings.Join(workloads, ", "), scaleNS, scaleFrom, scaleTo, method))
	reports := t.TempDir()
	cmd := exec.CommandContext(ctx, drill, "run", "--state-dir", t.TempDir(), "--archive", reports, "--run-id", "r",
		"--kubeconfig", c.Kubeconfig, "--log-format", "json", plan)
	prof := os.Getenv("FIREDRILL_SCALE_PROFILE_DIR")
	if prof != "" {
		require.NoError(t, os.MkdirAll(prof, 0o755))
		// Only a drill built with profiling hooks reads these.
		cmd.Env = append(os.Environ(),
			"FIREDRILL_CPUPROFILE="+filepath.Join(prof, name+".cpu.pprof"),
			"FIREDRILL_MEMPROFILE="+filepath.Join(prof, name+".heap.pprof"))
	}
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	res := scaleResult{Method: method, LoadAvgBefore: loadAvg()}
	start := time.Now()
	require.NoError(t, cmd.Start())
	cpu := sampleCPU(cmd.Process.Pid)
	err := cmd.Wait()
	res.Wall = time.Since(start)
	samples := cpu()
	res.LoadAvgAfter = loadAvg()
	if prof != "" {
		_ = os.WriteFile(filepath.Join(prof, name+".stdout"), []byte(stdout.String()), 0o644)
		_ = os.WriteFile(filepath.Join(prof, name+".stderr"), []byte(stderr.String()), 0o644)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), tailLines(stderr.String(), 40))
	}
	require.NotNil(t, cmd.ProcessState, "drill did not run")
	res.ExitCode = cmd.ProcessState.ExitCode()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	require.True(t, ok, "no rusage for the drill process")
	res.CPUUser = time.Duration(ru.Utime.Nano())
	res.CPUSys = time.Duration(ru.Stime.Nano())
	res.MaxRSSBytes = ru.Maxrss << 10 // KiB on Linux

	data, err := os.ReadFile(filepath.Join(reports, name, "r", "report.json"))
	require.NoError(t, err, "no report; drill exited %d\nstdout:\n%s\nstderr:\n%s", res.ExitCode, stdout.String(), tailLines(stderr.String(), 40))
	rep, err := report.Read(data)
	require.NoError(t, err)
	var step *v1alpha1.StepResult
	for i := range rep.Steps {
		if rep.Steps[i].Name == "cutover" {
			step = &rep.Steps[i]
		}
	}
	require.NotNil(t, step, "the report has no cutover step")
	f := step.Fault
	require.NotNil(t, f, "cutover step without a fault: %s", step.Message)
	require.Empty(t, f.Error, "the cutover failed; stderr:\n%s", tailLines(stderr.String(), 40))
	require.NotNil(t, f.Reverted, "the cutover was not reverted")
	res.Targets = len(f.Targets)
	// Inject: from the platform's first "injecting" record until the last
	// target was down; revert: from its first "reverting" record until the
	// last target was restored (report.json). Both are wall times and
	// include waiting for the cluster (evictions, pod deletions).
	firstInject, ok := firstRecord(stderr.String(), "injecting")
	require.True(t, ok, "no injecting record in drill's log")
	firstRevert, ok := firstRecord(stderr.String(), "reverting")
	require.True(t, ok, "no reverting record in drill's log")
	res.InjectWait = firstInject.Sub(step.StartTime.Time)
	res.Inject = f.Injected.Sub(firstInject)
	res.InjectToRevert = firstRevert.Sub(firstInject)
	res.Revert = f.RevertFinished.Sub(firstRevert)
	if f.Failback != nil {
		res.AfterRevert = report.OptDuration(f.Failback.RecoveryTime)
	}
	started, ok := firstRecord(stderr.String(), "kubernetes platform started")
	require.True(t, ok, "no platform started record in drill's log")
	res.CPUPhases = cpuPhases(samples, []phaseMark{
		{"startup and informer sync", start}, {"baseline step", started}, {"region down (first inject to first revert)", firstInject},
		{"restoring it", firstRevert}, {"observing recovery until exit", f.Reverted.Time}, {"", start.Add(res.Wall)},
	}, res.CPUUser+res.CPUSys)
	line, ok := apiClientRecord(stderr.String())
	require.True(t, ok, "drill logged no kubernetes API client record; stderr:\n%s", tailLines(stderr.String(), 40))
	res.APIClient = line
	res.InformerObjects = informerObjects(stderr.String())
	require.InDelta(t, 50, line.QPS, 1e-6, "the drill runs with its default QPS")
	require.Equal(t, 100, line.Burst, "the drill runs with its default burst")
	return res
}

// cpuSample is a process's CPU time (user + system) at a wall time.
type cpuSample struct {
	at  time.Time
	cpu time.Duration
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on Linux for x86 and arm64.
const clockTick = 10 * time.Millisecond

// sampleCPU reads /proc/<pid>/stat every 100 ms until the process is gone;
// the returned function stops the sampling and returns the samples.
func sampleCPU(pid int) func() []cpuSample {
	var mu sync.Mutex
	var out []cpuSample
	done := make(chan struct{})
	stopped := make(chan struct{})
	read := func() bool {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state is field 3, utime 14, stime 15.
		rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 13 {
			return false
		}
		utime, err1 := strconv.ParseInt(f[11], 10, 64)
		stime, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil || f[0] == "Z" {
			return false
		}
		mu.Lock()
		out = append(out, cpuSample{at: time.Now(), cpu: time.Duration(utime+stime) * clockTick})
		mu.Unlock()
		return true
	}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for read() {
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() []cpuSample {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// phaseMark starts a phase of a run; a mark without a name ends the last.
type phaseMark struct {
	name string
	at   time.Time
}

// cpuPhase is the CPU time a process spent in one phase of a run.
type cpuPhase struct {
	Name string        `json:"name"`
	CPU  time.Duration `json:"cpu"`
	Wall time.Duration `json:"wall"`
}

// cpuPhases splits sampled CPU time at the marks: each phase's CPU is the
// last sample at or before its end minus the last at or before its start;
// the last phase ends at exit, with the process's total CPU time.
func cpuPhases(samples []cpuSample, marks []phaseMark, total time.Duration) []cpuPhase {
	at := func(t time.Time) time.Duration {
		var cpu time.Duration
		for _, s := range samples {
			if s.at.After(t) {
				break
			}
			cpu = s.cpu
		}
		return cpu
	}
	var out []cpuPhase
	for i := 0; i+1 < len(marks); i++ {
		from, to := marks[i].at, marks[i+1].at
		end := at(to)
		if i+2 == len(marks) {
			end = total
		}
		out = append(out, cpuPhase{Name: marks[i].name, CPU: end - at(from), Wall: to.Sub(from)})
	}
	return out
}

// informerObjects finds the kube platform's "kubernetes informers" record
// in drill's JSON log and returns its counts.
func informerObjects(log string) string {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Msg     string `json:"msg"`
			Objects string `json:"objects"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "kubernetes informers" {
			return rec.Objects
		}
	}
	return ""
}

// apiClientRecord finds the kube platform's "kubernetes API client" record
// in drill's JSON log.
func apiClientRecord(log string) (apiClientLine, bool) {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Msg string `json:"msg"`
			apiClientLine
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "kubernetes API client" {
			return rec.apiClientLine, true
		}
	}
	return apiClientLine{}, false
}

// firstRecord returns the time of the first record with message msg in
// drill's JSON log.
func firstRecord(log, msg string) (time.Time, bool) {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == msg {
			return rec.Time, true
		}
	}
	return time.Time{}, false
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
