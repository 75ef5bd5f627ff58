//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/firedrill/firedrill/e2e/framework"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/archive"
	"github.com/firedrill/firedrill/pkg/archive/index"
	"github.com/firedrill/firedrill/pkg/archive/local"
	"github.com/firedrill/firedrill/pkg/archive/sums"
	"github.com/firedrill/firedrill/pkg/controller/conditions"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/scheduler"
)

// serveBed is a control plane with GPU nodes in two regions, a
// recommender in each, firedrill's CRDs, and drill serve's ServiceAccount
// bound to the ClusterRole generated from its RBAC markers: drill serve
// runs with exactly the rights the chart will grant it.
type serveBed struct {
	c          *framework.Cluster
	kubeconfig string // drill serve's, least privilege
	token      string // of drill serve's ServiceAccount, which may read runs
	endpoint   string
}

func newServeBed(ctx context.Context, t *testing.T) *serveBed {
	t.Helper()
	c := framework.Start(ctx, t, framework.Options{PodStartDelay: podStartDelay})
	c.AddNodes(ctx, t,
		framework.NodeSpec{Name: "gpu-east-1", Region: "us-east", Zone: "us-east-1a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-east-2", Region: "us-east", Zone: "us-east-1b", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-1", Region: "us-west", Zone: "us-west-2a", GPUs: 4},
		framework.NodeSpec{Name: "gpu-west-2", Region: "us-west", Zone: "us-west-2b", GPUs: 4},
	)
	c.InstallCRDs(ctx, t)
	c.CreateNamespace(ctx, t, ns)
	c.CreateNamespace(ctx, t, serveNamespace)
	c.DeployRecommender(ctx, t, ns, "us-east", 3)
	c.DeployRecommender(ctx, t, ns, "us-west", 3)
	c.WaitReady(ctx, t, ns, "recommender-us-east")
	c.WaitReady(ctx, t, ns, "recommender-us-west")
	role := serveRole(t)
	_, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	require.NoError(t, err)
	kubeconfig, token := serviceAccountKubeconfig(ctx, t, c, serveNamespace, "drill-serve", role.Name)
	return &serveBed{c: c, kubeconfig: kubeconfig, token: token, endpoint: okEndpoint(t)}
}

// plan builds a DrillPlan in ns from the spec's YAML (indented two
// spaces), on platform kubernetes against the bed.
func (b *serveBed) plan(t *testing.T, name, spec string) *v1alpha1.DrillPlan {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: firedrill.dev/v1alpha1
kind: DrillPlan
metadata: {name: %s, namespace: %s}
spec:
  target: {platform: kubernetes, namespace: %s}
  system:
    endpoint: %q
    workloads: [{kind: Deployment, name: recommender-us-east}]
  load: {rate: 20, timeout: 200ms, requests: [{path: /}]}
  objectives: {rto: 60s, recovered: {for: 1s}}
  safety: {maxPodsPercent: 50, maxNodes: 1, namespaces: [%s]}
%s`, name, ns, ns, b.endpoint, ns, spec)
	p := &v1alpha1.DrillPlan{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), p))
	return p
}

func (b *serveBed) create(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, b.c.Client.Create(ctx, obj))
}

func (b *serveBed) run(ctx context.Context, t *testing.T, name string) *v1alpha1.DrillRun {
	t.Helper()
	r := &v1alpha1.DrillRun{}
	require.NoError(t, b.c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r))
	return r
}

func (b *serveBed) getPlan(ctx context.Context, t *testing.T, name string) *v1alpha1.DrillPlan {
	t.Helper()
	p := &v1alpha1.DrillPlan{}
	require.NoError(t, b.c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, p))
	return p
}

// waitRun waits until run name satisfies cond.
func (b *serveBed) waitRun(ctx context.Context, t *testing.T, name string, timeout time.Duration, cond func(*v1alpha1.DrillRun) bool, what string) *v1alpha1.DrillRun {
	t.Helper()
	var last *v1alpha1.DrillRun
	require.Eventually(t, func() bool {
		r := &v1alpha1.DrillRun{}
		if err := b.c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
			return false
		}
		last = r
		return cond(r)
	}, timeout, 50*time.Millisecond, "run %s: %s; last status: %s", name, what, lazy(func() string { return statusOf(last) }))
	return last
}

func statusOf(r *v1alpha1.DrillRun) string {
	if r == nil {
		return "(none)"
	}
	data, _ := yaml.Marshal(r.Status)
	return string(data)
}

// released is phaseIs and the run's finalizer gone: its final status and
// report are written.
func released(phases ...v1alpha1.RunPhase) func(*v1alpha1.DrillRun) bool {
	is := phaseIs(phases...)
	return func(r *v1alpha1.DrillRun) bool { return is(r) && len(r.Finalizers) == 0 }
}

func phaseIs(phases ...v1alpha1.RunPhase) func(*v1alpha1.DrillRun) bool {
	return func(r *v1alpha1.DrillRun) bool {
		for _, p := range phases {
			if r.Status.Phase == p {
				return true
			}
		}
		return false
	}
}

// TestServeSchedulesDrills runs drill serve (with its generated RBAC) on a
// real control plane: a short schedule fires on time and its runs finish
// with status and report; Forbid holds a fire back while a run is active.
func TestServeSchedulesDrills(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	b := newServeBed(ctx, t)
	a := startServe(ctx, t, "a", b.kubeconfig)

	t.Run("a short schedule fires on time and its runs finish with status and a report", func(t *testing.T) {
		p := b.plan(t, "every15", `  schedule: "@every 15s"
  successfulRunsHistoryLimit: 1
  steps:
    - {name: baseline, wait: 1s}
    - name: kill
      fault:
        podKill: {selector: {matchLabels: {app: recommender, region: us-east}}, gpuOnly: true, mode: one}
`)
		b.create(ctx, t, p)
		var first time.Time
		require.Eventually(t, func() bool {
			got := b.getPlan(ctx, t, p.Name)
			if got.Status.NextScheduleTime != nil {
				first = got.Status.NextScheduleTime.Time
				return true
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "drill serve announces the first fire")

		var names []string
		for i := range 2 {
			fire := first.Add(time.Duration(i) * 15 * time.Second)
			name := scheduler.RunName(p.Name, fire)
			names = append(names, name)
			seen := time.Time{}
			run := b.waitRun(ctx, t, name, 30*time.Second, func(r *v1alpha1.DrillRun) bool {
				if seen.IsZero() {
					seen = time.Now()
				}
				return r.Status.StartTime != nil
			}, "the fire creates and starts the run")
			started := run.Status.StartTime.Time
			t.Logf("measure: fire %s: run seen %s after the fire, started %s after it (created %s)",
				fire.Format(time.TimeOnly), seen.Sub(fire).Round(time.Millisecond), started.Sub(fire).Round(time.Millisecond), run.CreationTimestamp.Format(time.TimeOnly))
			require.WithinDuration(t, fire, started, 2*time.Second, "the run starts within 2 s of its fire")
			require.False(t, run.CreationTimestamp.Time.Before(fire), "not before its fire")
			require.Equal(t, fire.UTC(), run.Spec.ScheduledTime.UTC())
			require.Equal(t, v1alpha1.TriggerSchedule, run.Spec.Trigger)
			require.Equal(t, p.Name, metav1.GetControllerOf(run).Name)
			require.Len(t, run.Spec.PlanHash, 64)

			run = b.waitRun(ctx, t, name, 2*time.Minute, released(v1alpha1.RunSucceeded, v1alpha1.RunFailed, v1alpha1.RunError, v1alpha1.RunAborted), "it finishes")
			require.Equal(t, v1alpha1.RunSucceeded, run.Status.Phase, statusOf(run))
			require.Equal(t, v1alpha1.VerdictPass, run.Status.Verdict)
			require.Equal(t, a.identity(t), run.Status.Runner)
			require.Nil(t, run.Status.PlanSpec)
			require.NotEmpty(t, run.Status.WorstRecovery)
			require.Equal(t, run.Generation, run.Status.ObservedGeneration)
			ready := meta.FindStatusCondition(run.Status.Conditions, conditions.Ready)
			require.NotNil(t, ready)
			require.Equal(t, metav1.ConditionTrue, ready.Status)
			require.Empty(t, run.Finalizers)
			require.Equal(t, []v1alpha1.JournalEntry{{Step: "kill", State: v1alpha1.FaultReverted, Targets: run.Status.Journal[0].Targets}}, run.Status.Journal)
			f := run.Status.Steps[1].Fault
			require.NotNil(t, f.Injected)
			require.NotNil(t, f.Failover.CapacityRTO)
			t.Logf("measure: scheduled pod kill capacity RTO %s", f.Failover.CapacityRTO.Duration)

			// The report is archived where the status says, as run
			// <namespace>.<name> of its plan, and agrees.
			require.NotNil(t, run.Status.Report)
			require.Equal(t, filepath.Join(a.reports, p.Name, ns+"."+name), run.Status.Report.Path)
			for _, f := range []string{report.JSONFile, report.MarkdownFile, report.JUnitFile, archive.HTMLFile, sums.FileName} {
				require.FileExists(t, filepath.Join(run.Status.Report.Path, f))
			}
			data, err := os.ReadFile(filepath.Join(run.Status.Report.Path, report.JSONFile))
			require.NoError(t, err)
			rep, err := report.Read(data)
			require.NoError(t, err)
			require.Equal(t, ns+"."+name, rep.RunID)
			require.Equal(t, run.Status.Phase, rep.Phase)
			require.Equal(t, v1alpha1.TriggerSchedule, rep.Trigger)
			require.Equal(t, run.Spec.PlanHash, rep.Plan.Hash, "the run drilled the version of the plan it was created for")
			require.NotEmpty(t, rep.Series)
		}

		// successfulRunsHistoryLimit 1: the older run goes, with its report.
		require.Eventually(t, func() bool {
			err := b.c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: names[0]}, &v1alpha1.DrillRun{})
			return client.IgnoreNotFound(err) == nil && err != nil
		}, 30*time.Second, 100*time.Millisecond, "the first run is pruned")
		_, err := os.Stat(filepath.Join(a.reports, p.Name, ns+"."+names[0]))
		require.ErrorIs(t, err, os.ErrNotExist, "with its report")
		// drill reports list --archive <the same directory> lists the runs
		// drill serve archived, and not the pruned one.
		arch, err := local.New(a.reports)
		require.NoError(t, err)
		idx, err := arch.Index(ctx)
		require.NoError(t, err)
		_, err = idx.Find(ns + "." + names[1])
		require.NoError(t, err)
		_, err = idx.Find(ns + "." + names[0])
		require.ErrorIs(t, err, index.ErrNotFound)

		got := b.getPlan(ctx, t, p.Name)
		require.Equal(t, names[1], got.Status.LastRun.Name)
		require.NotNil(t, got.Status.LastSuccessfulTime)
		require.Equal(t, got.Generation, got.Status.ObservedGeneration)
		require.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, conditions.Ready))

		// kubectl get drillruns shows plan, phase, verdict, worst recovery
		// against its objective, and age.
		table := serverTable(ctx, t, b.c, "drillruns")
		require.Equal(t, []string{"Name", "Plan", "Trigger", "Phase", "Verdict", "Recovery", "Age"}, table.columns)
		row := table.row(names[1])
		require.Equal(t, []string{names[1], p.Name, "schedule", "Succeeded", "Pass"}, row[:5])
		require.Regexp(t, `^\S+/1m0s$`, row[5], "worst recovery against its objective")

		// drill serve's API lists the run with its report, for a token
		// RBAC lets read runs (TokenReview, SubjectAccessReview), and
		// refuses a request without one.
		runsURL := "http://" + a.apiAddr + "/api/v1/runs?namespace=" + ns + "&plan=" + p.Name
		code, _ := apiGet(ctx, t, runsURL, "")
		require.Equal(t, http.StatusUnauthorized, code)
		code, body := apiGet(ctx, t, runsURL, b.token)
		require.Equal(t, http.StatusOK, code, body)
		var list struct {
			Items []struct {
				ID      string            `json:"id"`
				Phase   v1alpha1.RunPhase `json:"phase"`
				Verdict v1alpha1.Verdict  `json:"verdict"`
				Reports map[string]string `json:"reports"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &list), body)
		require.Len(t, list.Items, 1, body)
		require.Equal(t, names[1], list.Items[0].ID)
		require.Equal(t, v1alpha1.VerdictPass, list.Items[0].Verdict)
		code, body = apiGet(ctx, t, "http://"+a.apiAddr+list.Items[0].Reports["md"], b.token)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, p.Name)
		checkDashboard(ctx, t, "http://"+a.apiAddr, b.token, ns, p.Name)

		p = b.getPlan(ctx, t, p.Name)
		p.Spec.Suspend = true
		require.NoError(t, b.c.Client.Update(ctx, p))
	})

	t.Run("Forbid holds back a fire while a run is active and records it missed past its deadline", func(t *testing.T) {
		p := b.plan(t, "forbid", `  schedule: "@every 10s"
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 3
  steps:
    - {name: long, wait: 22s}
`)
		b.create(ctx, t, p)
		var first time.Time
		require.Eventually(t, func() bool {
			got := b.getPlan(ctx, t, p.Name)
			if got.Status.NextScheduleTime != nil {
				first = got.Status.NextScheduleTime.Time
				return true
			}
			return false
		}, 30*time.Second, 50*time.Millisecond)
		firstRun := scheduler.RunName(p.Name, first)
		b.waitRun(ctx, t, firstRun, 30*time.Second, phaseIs(v1alpha1.RunRunning), "the first fire runs")

		// The next fire comes due while the first run goes: it waits, then
		// is recorded as missed once its deadline has passed.
		second := first.Add(10 * time.Second)
		require.Eventually(t, func() bool {
			got := b.getPlan(ctx, t, p.Name)
			m := got.Status.Missed
			return m != nil && m.ScheduleTime.Time.Equal(second) && m.Reason == v1alpha1.MissedDeadlineExceeded
		}, 30*time.Second, 100*time.Millisecond, "the overlapping fire is missed: %s", lazy(func() string {
			data, _ := yaml.Marshal(b.getPlan(ctx, t, p.Name).Status)
			return string(data)
		}))
		var list v1alpha1.DrillRunList
		require.NoError(t, b.c.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"firedrill.dev/plan": p.Name}))
		require.Len(t, list.Items, 1, "no run overlaps the active one")

		run := b.waitRun(ctx, t, firstRun, time.Minute, phaseIs(v1alpha1.RunSucceeded, v1alpha1.RunFailed), "the first run ends")
		ended := run.Status.CompletionTime.Time
		// The next fire after the first run ended starts.
		var next *v1alpha1.DrillRun
		require.Eventually(t, func() bool {
			require.NoError(t, b.c.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"firedrill.dev/plan": p.Name}))
			for i := range list.Items {
				if list.Items[i].Name != firstRun {
					next = &list.Items[i]
					return true
				}
			}
			return false
		}, 30*time.Second, 100*time.Millisecond, "a later fire runs once the first run is over")
		next = b.waitRun(ctx, t, next.Name, 30*time.Second, func(r *v1alpha1.DrillRun) bool { return r.Status.StartTime != nil }, "it starts")
		require.False(t, next.Status.StartTime.Time.Before(ended), "it does not overlap the first run (started %s, first ended %s)", next.Status.StartTime.Time, ended)
		t.Logf("measure: Forbid: fire %s started %s after the first run ended (%s late)", next.Spec.ScheduledTime.Format(time.TimeOnly),
			next.Status.StartTime.Sub(ended).Round(time.Millisecond), next.Status.StartTime.Sub(next.Spec.ScheduledTime.Time).Round(time.Millisecond))
		p = b.getPlan(ctx, t, p.Name)
		p.Spec.Suspend = true
		require.NoError(t, b.c.Client.Update(ctx, p))
	})
}

// apiGet GETs url from drill serve's API with a bearer token ("" sends
// none) and returns the status and body.
func apiGet(ctx context.Context, t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}
