package kube

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

func TestTargets(t *testing.T) {
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}}},
	}
	gpuPod := fixtures.Pod("recsys", "gpu-1", "east-1", "1", "1Gi", 1)
	cpuPod := fixtures.Pod("recsys", "cpu-1", "east-1", "1", "1Gi", 0, fixtures.Labelled("app", "frontdoor"))
	other := fixtures.Pod("billing", "b-1", "east-1", "1", "1Gi", 1)
	objs := []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2, fixtures.Cordoned),
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		&gpuPod, &cpuPod, &other,
		fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"}),
		fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"}),
	}
	tests := []struct {
		name    string
		fault   v1alpha1.Fault
		want    []string
		labels  map[string]string
		wantErr string
	}{
		{name: "podKill with gpuOnly lists the running GPU pods of the namespace",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{GPUOnly: true, Region: "east"}}, want: []string{"pod/recsys/gpu-1"}},
		{name: "podKill outside safety.namespaces is refused",
			fault: v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Namespace: "billing"}}, wantErr: "not in safety.namespaces"},
		{name: "nodeDrain skips nodes someone else cordoned",
			fault: v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{Region: "east", GPUOnly: true}}, want: []string{"node/east-1"}},
		{name: "a drain cutover is one target, the region, labelled with the nodes it would cordon",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "west", To: "east"}}, want: []string{"region/west"},
			labels: map[string]string{LabelCutoverMethod: "drain", LabelCutoverNodes: "west-1", LabelCutoverTraffic: "auto"}},
		{name: "a scaleToZero cutover is the region, labelled with the workloads it would scale",
			fault:  v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Method: v1alpha1.CutoverScaleToZero}},
			want:   []string{"region/east"},
			labels: map[string]string{LabelCutoverMethod: "scaleToZero", LabelCutoverWorkloads: "Deployment/recsys/recommender-east", LabelCutoverTraffic: "auto"}},
		{name: "a cutover to a region without nodes is refused",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "north"}}, wantErr: "region north has no schedulable node"},
		{name: "a cutover of a region without nodes is refused",
			fault: v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "north", To: "east"}}, wantErr: "region north has no schedulable node (label topology.kubernetes.io/region) to take down"},
		{name: "a manual cutover without a switch action is refused",
			fault:   v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Traffic: v1alpha1.TrafficManual}},
			wantErr: "needs a switch action"},
		{name: "a store outage targets the store workload",
			fault: v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}, want: []string{"store/Deployment/recsys/model-store"}},
		{name: "a slow store is not supported on kubernetes",
			fault: v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{Mode: v1alpha1.OutageSlow}}, wantErr: "fault not supported"},
		{name: "chaosMesh without Chaos Mesh installed says so",
			fault: v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "PodChaos"}}, wantErr: "chaos mesh is not installed"},
		{name: "an exec fault is the engine's", fault: v1alpha1.Fault{Exec: &v1alpha1.ExecFault{}}, wantErr: "fault not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFake(t, spec, interceptor.Funcs{}, objs...)
			got, err := fc.p.Targets(context.Background(), platform.Fault{ID: "step", RunID: "r1", Spec: &tt.fault})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, tg := range got {
				names = append(names, tg.String())
			}
			require.ElementsMatch(t, tt.want, names)
			if tt.labels != nil {
				require.Equal(t, tt.labels, got[0].Labels)
				require.Equal(t, got[0].Name, got[0].Region)
			}
		})
	}
}

func TestStoreOutageBookkeeping(t *testing.T) {
	ctx := context.Background()
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{ModelStore: &v1alpha1.ModelStoreRef{Workload: &v1alpha1.WorkloadRef{Name: "model-store"}}},
	}
	fc := newFake(t, spec, interceptor.Funcs{}, fixtures.Deployment("recsys", "model-store", 3, map[string]string{"app": "model-store"}))
	p := fc.p
	f := platform.Fault{ID: "lose-store", RunID: "r1", Spec: &v1alpha1.Fault{ModelStoreOutage: &v1alpha1.ModelStoreOutage{}}}
	tg := evidence.Target{Kind: evidence.KindStore, Name: "Deployment/recsys/model-store"}
	get := func() *appsv1.Deployment {
		var d appsv1.Deployment
		require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "model-store"}, &d))
		return &d
	}

	require.NoError(t, p.Inject(ctx, f, tg))
	require.NoError(t, p.Inject(ctx, f, tg), "inject is idempotent")
	d := get()
	require.Equal(t, int32(0), *d.Spec.Replicas)
	require.Equal(t, "3", d.Annotations[AnnotationReplicas], "the second inject keeps the first record")
	require.Equal(t, "r1", d.Annotations[AnnotationRunID])
	require.Equal(t, []evidence.Event{{Type: evidence.EventTookEffect, Fault: "lose-store", Target: &tg}}, fc.events.of(evidence.EventTookEffect, "lose-store"),
		"one TookEffect, at the first scale")

	other := platform.Fault{ID: "lose-store", RunID: "r2", Spec: f.Spec}
	require.ErrorContains(t, p.Inject(ctx, other, tg), "held by run r1")
	require.NoError(t, p.Revert(ctx, other, tg), "another run's revert leaves the workload alone")
	require.Equal(t, int32(0), *get().Spec.Replicas)

	marked, err := p.Marked(ctx, "", "")
	require.NoError(t, err)
	require.Equal(t, []MarkedObject{{Target: evidence.Target{Kind: KindWorkload, Name: "Deployment/recsys/model-store"}, RunID: "r1", Fault: "lose-store", Heartbeat: "recsys/firedrill-run-r1"}}, marked)

	require.NoError(t, p.Recover(ctx, f, []evidence.Target{tg}))
	require.NoError(t, p.Revert(ctx, f, tg), "revert after recover is a no-op")
	d = get()
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.NotContains(t, d.Annotations, AnnotationReplicas)
	require.NotContains(t, d.Annotations, AnnotationRunID)
}

func TestAPodKillTakesEffectOnceAndNotesOnce(t *testing.T) {
	ctx := context.Background()
	spec := &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"}}
	a := fixtures.Pod("recsys", "a", "east-1", "1", "1Gi", 1)
	b := fixtures.Pod("recsys", "b", "east-1", "1", "1Gi", 1)
	a.UID, b.UID = "uid-a", "uid-b"
	fc := newFake(t, spec, interceptor.Funcs{}, fixtures.Node("east-1", "east", "8", "32Gi", 2), &a, &b)
	f := platform.Fault{ID: "kill", RunID: "r1", Spec: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}}
	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 2)
	for _, tg := range targets {
		require.NoError(t, fc.p.Inject(ctx, f, tg))
	}
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]), "a repeated kill finds the pod gone")
	effects := fc.events.of(evidence.EventTookEffect, "kill")
	require.Len(t, effects, 1, "the engine takes the earliest; the platform sends only that one")
	require.Equal(t, targets[0].Name, effects[0].Target.Name)
	var left corev1.PodList
	require.NoError(t, fc.c.List(ctx, &left))
	require.Empty(t, left.Items)

	fc.p.log.Note("kill", nil, "seen once")
	fc.p.log.Note("kill", nil, "seen once")
	require.Equal(t, []string{"seen once"}, fc.events.messages(evidence.EventNote, "kill"))
	require.NoError(t, fc.p.Revert(ctx, f, targets[0]), "a pod kill has nothing to revert")
}

func TestCapacityNeedsStart(t *testing.T) {
	healthy := fixtures.Deployment("recsys", "recommender", 2, map[string]string{"app": "recommender"})
	healthy.Status.ReadyReplicas = 2
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender"}, {Name: "missing"}}},
	}
	fc := newFake(t, spec, interceptor.Funcs{}, healthy)
	_, err := fc.p.Capacity(t.Context())
	require.ErrorIs(t, err, errNotStarted)
	points, missing, err := fc.p.CapacityPresent(t.Context())
	require.NoError(t, err, "before Start, CapacityPresent reads live (a fleet's preflight)")
	require.Len(t, points, 1)
	require.Equal(t, evidence.CapacityPoint{At: points[0].At, Workload: "Deployment/recsys/recommender", Desired: 2, Ready: 2}, points[0])
	require.Equal(t, []string{"Deployment/recsys/missing"}, missing)
}

func TestPreflight(t *testing.T) {
	spec := &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		System: v1alpha1.System{Workloads: []v1alpha1.WorkloadRef{{Name: "recommender"}, {Name: "gone", Kind: v1alpha1.WorkloadStatefulSet}}},
		Steps: []v1alpha1.Step{
			{Name: "baseline"},
			{Name: "kill", Fault: &v1alpha1.Fault{PodKill: &v1alpha1.PodKill{Namespace: "billing"}}},
			{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{From: "east", To: "west", Traffic: v1alpha1.TrafficManual,
				Switch: &v1alpha1.CutoverSwitch{HTTPRoute: &v1alpha1.HTTPRouteSwitch{Name: "frontdoor", Backends: []v1alpha1.RegionBackend{{Region: "east", Service: "a"}, {Region: "west", Service: "b"}}}}}}},
			{Name: "chaos", Fault: &v1alpha1.Fault{ChaosMesh: &v1alpha1.ChaosMeshFault{Kind: "PodChaos"}}},
		},
	}
	objs := []runtime.Object{fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Deployment("recsys", "recommender", 2, map[string]string{"app": "recommender"})}
	fc := newFake(t, spec, interceptor.Funcs{}, objs...)
	err := fc.p.Preflight(t.Context(), spec)
	require.Error(t, err)
	for _, want := range []string{
		"step kill: namespace billing is not in safety.namespaces [recsys]",
		"step cutover: getting HTTPRoute recsys/frontdoor",
		"step chaos: chaos mesh is not installed",
		"system.workloads: StatefulSet/recsys/gone not found",
	} {
		require.ErrorContains(t, err, want)
	}
	require.Len(t, strings.Split(err.Error(), "\n"), 4, "every problem at once, one a line: %v", err)

	fc.cs.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	err = fc.p.Preflight(t.Context(), spec)
	require.ErrorContains(t, err, "reaching the cluster at : connection refused")
	require.NotContains(t, err.Error(), "step", "an unreachable cluster is the only problem worth saying")
}

func TestNewWithoutAKubeconfigSaysHowToProvideOne(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "nope"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := New(Options{Spec: &v1alpha1.DrillPlanSpec{}})
	require.ErrorIs(t, err, ErrNoKubeconfig)
	require.ErrorContains(t, err, "pass --kubeconfig FILE, set $KUBECONFIG")
	_, err = NewFleet(Options{Spec: &v1alpha1.DrillPlanSpec{Target: v1alpha1.Target{Clusters: []v1alpha1.Cluster{{Region: "east", Context: "east"}}}}})
	require.ErrorIs(t, err, ErrNoKubeconfig)
}

func TestPlatformCountsItsRequestsAndLogsThemAtStop(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/nodes" {
			_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[]}`))
			return
		}
		// No Retry-After: client-go does not retry, so one request is sent.
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429}`))
	}))
	defer srv.Close()

	p, err := New(Options{Spec: &v1alpha1.DrillPlanSpec{}, RESTConfig: &rest.Config{Host: srv.URL}})
	require.NoError(t, err)
	ctx := t.Context()
	_, err = p.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	_, err = p.cs.CoreV1().Nodes().Get(ctx, "gpu-1", metav1.GetOptions{})
	require.True(t, apierrors.IsTooManyRequests(err), "got %v", err)

	s := p.APIStats()
	require.Equal(t, int64(2), s.Requests)
	require.Equal(t, map[string]int64{"get": 1, "list": 1}, s.ByVerb)
	require.Equal(t, int64(1), s.TooManyRequests())
	require.Equal(t, int64(2), s.LimiterWaits, "both requests passed the shared limiter")
	require.InDelta(t, float32(DefaultQPS), s.QPS, 1e-6)
	require.Equal(t, DefaultBurst, s.Burst)

	var buf bytes.Buffer
	logCtx := log.IntoContext(ctx, slog.New(slog.NewTextHandler(&buf, nil)))
	require.NoError(t, p.Stop(logCtx))
	require.NoError(t, p.Stop(logCtx))
	out := buf.String()
	require.Equal(t, 1, strings.Count(out, `msg="kubernetes API client"`), "logged once: %s", out)
	for _, want := range []string{"requests=2 ", "qps=50 ", "burst=100 ", "status429=1 ", `verbs="get=1 list=1"`} {
		require.Contains(t, out, want)
	}
}
