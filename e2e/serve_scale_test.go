//go:build e2e && scale

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/controller/backend"
	"github.com/firedrill/firedrill/pkg/controller/drillplan"
	"github.com/firedrill/firedrill/pkg/controller/reportarchive"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
	"github.com/firedrill/firedrill/pkg/server"
)

const (
	scalePlans       = 200
	scaleRunsPerPlan = 10
)

// TestServeScale is the drill serve benchmark of docs/benchmarks.md: 200
// DrillPlans and 2,000 finished DrillRuns (each with the status of a real
// two-fault report) in a real API server. It measures drill serve's RSS
// once it has synced and settled, the time to reconcile an idle plan
// through the manager's cache, and listing the 2,000 runs through the
// API's backend, encoded as the API sends them.
//
//	go test -tags 'e2e scale' -count=1 -v -run TestServeScale ./e2e/
func TestServeScale(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	ctrl.SetLogger(logr.Discard())
	c := framework.Start(ctx, t, framework.Options{})
	c.InstallCRDs(ctx, t)
	c.CreateNamespace(ctx, t, ns)
	c.CreateNamespace(ctx, t, serveNamespace)
	role := serveRole(t)
	_, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	require.NoError(t, err)
	kubeconfig, _ := serviceAccountKubeconfig(ctx, t, c, serveNamespace, "drill-serve", role.Name)

	root, err := framework.RepoRoot()
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(root, "pkg", "report", "testdata", "report.json"))
	require.NoError(t, err)
	sample, err := report.Read(data)
	require.NoError(t, err)
	statusJSON, _ := json.Marshal(sample.RunResult)
	t.Logf("measure: each run's status holds a %d-byte result (%d steps)", len(statusJSON), len(sample.Steps))

	// drill serve with nothing to serve, for comparison.
	empty := startServe(ctx, t, "empty", kubeconfig, "--log-level", "info")
	time.Sleep(10 * time.Second)
	t.Logf("measure: drill serve RSS with no plans or runs, 10 s after ready: %.1f MiB", float64(empty.rss(t))/(1<<20))
	empty.stop(time.Minute)

	// History: 200 hourly plans, 10 finished runs each, created by 8
	// workers as an operator's history would have been.
	start := time.Now()
	epoch := time.Now().UTC().Truncate(time.Hour).Add(-24 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, scalePlans)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := createHistory(ctx, c, i, epoch, sample); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range scalePlans {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("measure: %d plans and %d runs created in %s", scalePlans, scalePlans*scaleRunsPerPlan, time.Since(start).Round(time.Second))

	// drill serve: synced, every plan reconciled once, then idle.
	metricsPort := freeTCPPort(t)
	s := startServe(ctx, t, "scale", kubeconfig, "--metrics-bind-address", "127.0.0.1:"+strconv.Itoa(metricsPort), "--log-level", "info")
	require.Eventually(t, func() bool {
		n := reconcileCount(ctx, t, metricsPort, "drillplan")
		return n >= scalePlans
	}, 5*time.Minute, time.Second, "drill serve reconciles every plan")
	time.Sleep(10 * time.Second)
	rss := s.rss(t)
	sum, count := reconcileSum(ctx, t, metricsPort, "drillplan")
	t.Logf("measure: drill serve RSS after sync and 10 s idle: %.1f MiB", float64(rss)/(1<<20))
	t.Logf("measure: drill serve's own drillplan reconciles (first pass, with the status write): %d, mean %.3f ms", count, 1000*sum/float64(count))
	require.Less(t, rss, uint64(150<<20), "controller RSS < 150 MB")

	// The reconciler and the backend on a manager cache of their own.
	scheme := k8sruntime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(c.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{&v1alpha1.DrillRun{}: {Transform: runs.Summarize}}}})
	require.NoError(t, err)
	require.NoError(t, runs.Setup(ctx, mgr.GetFieldIndexer()))
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = mgr.Start(mctx) }()
	// Reading a kind starts its informer once the cache runs.
	require.Eventually(t, func() bool {
		return mgr.GetClient().List(ctx, &v1alpha1.DrillRunList{}) == nil && mgr.GetClient().List(ctx, &v1alpha1.DrillPlanList{}) == nil
	}, time.Minute, 100*time.Millisecond)
	require.True(t, mgr.GetCache().WaitForCacheSync(ctx))

	var writes atomic.Int64
	counted := countingWrites{Client: mgr.GetClient(), n: &writes}
	rec := &drillplan.Reconciler{Client: counted, Scheme: scheme, Clock: clock.RealClock{}}
	var lat []time.Duration
	for round := range 5 {
		for i := range scalePlans {
			t0 := time.Now()
			_, err := rec.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: planName(i)}})
			d := time.Since(t0)
			require.NoError(t, err)
			if round > 0 {
				lat = append(lat, d)
			}
		}
	}
	require.Zero(t, writes.Load(), "an idle plan writes nothing")
	p50, p99 := percentiles(lat)
	t.Logf("measure: reconcile an idle plan (cache, %d runs each, no write), %d reconciles: p50 %s, p99 %s", scaleRunsPerPlan, len(lat), p50, p99)
	require.Less(t, p99, time.Millisecond, "reconciling an idle plan < 1 ms")

	arch, err := local.New(t.TempDir())
	require.NoError(t, err)
	reports, err := reportarchive.New(arch, t.TempDir(), archive.StoreOptions{})
	require.NoError(t, err)
	b, err := backend.New(backend.Options{Client: mgr.GetClient(), Scheme: scheme, Reports: reports})
	require.NoError(t, err)
	lat = lat[:0]
	var size int
	for i := range 110 {
		t0 := time.Now()
		got, err := b.Runs(ctx, server.RunFilter{})
		require.NoError(t, err)
		enc, err := json.Marshal(got)
		require.NoError(t, err)
		d := time.Since(t0)
		require.Len(t, got, scalePlans*scaleRunsPerPlan)
		size = len(enc)
		if i >= 10 {
			lat = append(lat, d)
		}
	}
	p50, p99 = percentiles(lat)
	t.Logf("measure: list %d runs through the API backend and encode them (%d KiB): p50 %s, p99 %s", scalePlans*scaleRunsPerPlan, size>>10, p50, p99)
	require.Less(t, p99, 50*time.Millisecond, "listing 2,000 runs through the API: p99 < 50 ms")
}

func planName(i int) string { return fmt.Sprintf("plan-%03d", i) }

// createHistory creates plan i and its finished scheduled runs.
func createHistory(ctx context.Context, c *framework.Cluster, i int, epoch time.Time, sample *report.Report) error {
	p := &v1alpha1.DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: planName(i), Namespace: ns},
		Spec: *sample.Plan.Spec.DeepCopy()}
	p.Spec.Schedule = "@every 1h"
	p.Spec.Target = v1alpha1.Target{Platform: v1alpha1.PlatformNone}
	p.Spec.SuccessfulRunsHistoryLimit = ptrTo[int32](scaleRunsPerPlan)
	p.Spec.FailedRunsHistoryLimit = ptrTo[int32](scaleRunsPerPlan)
	if err := c.Client.Create(ctx, p); err != nil {
		return fmt.Errorf("plan %s: %w", p.Name, err)
	}
	scheme := c.Scheme
	for j := range scaleRunsPerPlan {
		fire := epoch.Add(time.Duration(j) * time.Hour)
		r, err := runs.ForPlan(p, runs.Options{Trigger: v1alpha1.TriggerSchedule, Fire: &runs.Fire{Name: scheduler.RunName(p.Name, fire), Time: metav1.NewTime(fire)}}, scheme)
		if err != nil {
			return err
		}
		if err := c.Client.Create(ctx, r); err != nil {
			return fmt.Errorf("run %s: %w", r.Name, err)
		}
		r.Status.RunResult = *sample.DeepCopy() // the report's RunResult, promoted
		r.Status.ObservedGeneration = r.Generation
		r.Status.Report = &v1alpha1.ReportReference{Path: "/var/lib/firedrill/reports/" + ns + "/" + p.Name + "/" + ns + "." + r.Name}
		r.Status.Journal = []v1alpha1.JournalEntry{{Step: "kill", State: v1alpha1.FaultReverted}}
		if err := c.Client.Status().Update(ctx, r); err != nil {
			return fmt.Errorf("status of run %s: %w", r.Name, err)
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

// reconcileCount and reconcileSum read controller-runtime's reconcile
// metrics of a controller from drill serve's /metrics.
func reconcileCount(ctx context.Context, t *testing.T, port int, controller string) int {
	t.Helper()
	_, n := reconcileSum(ctx, t, port, controller)
	return n
}

func reconcileSum(ctx context.Context, t *testing.T, port int, controller string) (float64, int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	defer func() { _ = resp.Body.Close() }()
	var sum float64
	var count int
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	label := `controller="` + controller + `"`
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, label) {
			continue
		}
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		switch {
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_sum"):
			sum = v
		case strings.HasPrefix(line, "controller_runtime_reconcile_time_seconds_count"):
			count = int(v)
		}
	}
	return sum, count
}

// countingWrites is a client that counts its writes.
type countingWrites struct {
	client.Client
	n *atomic.Int64
}

func (c countingWrites) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.n.Add(1)
	return c.Client.Create(ctx, obj, opts...)
}

func (c countingWrites) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.n.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

func (c countingWrites) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.n.Add(1)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c countingWrites) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.n.Add(1)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c countingWrites) Status() client.SubResourceWriter {
	return countingStatus{SubResourceWriter: c.Client.Status(), n: c.n}
}

type countingStatus struct {
	client.SubResourceWriter
	n *atomic.Int64
}

func (c countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (c countingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Update(ctx, obj, opts...)
}

// rss is drill serve's resident set size in bytes.
func (p *serveProc) rss(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
