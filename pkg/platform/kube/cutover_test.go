package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

func cutoverSpec(sw *v1alpha1.CutoverSwitch, method v1alpha1.CutoverMethod) *v1alpha1.DrillPlanSpec {
	traffic := v1alpha1.TrafficManual
	if sw == nil {
		traffic = v1alpha1.TrafficAuto
	}
	return &v1alpha1.DrillPlanSpec{
		Target: v1alpha1.Target{Platform: v1alpha1.PlatformKubernetes, Namespace: "recsys"},
		Steps: []v1alpha1.Step{{Name: "cutover", Fault: &v1alpha1.Fault{RegionCutover: &v1alpha1.RegionCutover{
			From: "east", To: "west", Traffic: traffic, Method: method, Switch: sw,
		}}}},
	}
}

func selectorOf(t *testing.T, c client.Client) string {
	t.Helper()
	var s corev1.Service
	require.NoError(t, c.Get(t.Context(), client.ObjectKey{Namespace: "recsys", Name: "frontdoor"}, &s))
	return s.Spec.Selector["region"]
}

// callLog intercepts writes and reads of a fake client as "verb kind name"
// lines.
func callLog(calls *fixtures.Calls) interceptor.Funcs {
	kind := func(obj runtime.Object) string { return strings.ToLower(fmt.Sprintf("%T", obj)) }
	return interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			calls.Add("get " + kind(obj) + " " + key.Name)
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			calls.Add("list " + kind(list))
			return c.List(ctx, list, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			calls.Add("patch " + kind(obj) + " " + obj.GetName())
			return c.Patch(ctx, obj, p, opts...)
		},
	}
}

func TestServiceSwitchRunsOnceTheRegionIsDownAndFailsBack(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	objs := []runtime.Object{
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil),
		fixtures.Deployment("recsys", "recommender-east-a", 2, map[string]string{"app": "recommender", "region": "east"}),
		fixtures.Deployment("recsys", "recommender-east-b", 2, map[string]string{"app": "recommender", "region": "east"}),
		fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"}),
	}
	var calls fixtures.Calls
	fc := newFake(t, spec, callLog(&calls), objs...)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}

	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	require.Equal(t, "manual: Service recsys/frontdoor selector region", targets[0].Labels[LabelCutoverTraffic])
	require.Equal(t, "east", selectorOf(t, fc.c), "a dry run touches nothing")
	calls.Reset()
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	var patches []string
	for _, l := range calls.Lines() {
		if strings.HasPrefix(l, "patch ") {
			patches = append(patches, l)
		}
	}
	require.Len(t, patches, 3)
	require.Equal(t, "patch *v1.service frontdoor", patches[2], "traffic moves once the whole region is down")
	var s corev1.Service
	require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "frontdoor"}, &s))
	require.Equal(t, map[string]string{"app": "recommender", "region": "west"}, s.Spec.Selector)
	require.Equal(t, `{"region":"east"}`, s.Annotations[AnnotationSelector])
	require.Equal(t, "r1", s.Annotations[AnnotationRunID])
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]), "inject is idempotent")

	marked, err := fc.p.Marked(ctx, "r1", "cutover")
	require.NoError(t, err)
	require.ElementsMatch(t, []MarkedObject{
		{Target: evidence.Target{Kind: KindWorkload, Name: "Deployment/recsys/recommender-east-a"}, RunID: "r1", Fault: "cutover", Heartbeat: "recsys/firedrill-run-r1"},
		{Target: evidence.Target{Kind: KindWorkload, Name: "Deployment/recsys/recommender-east-b"}, RunID: "r1", Fault: "cutover", Heartbeat: "recsys/firedrill-run-r1"},
		{Target: evidence.Target{Kind: KindService, Name: "recsys/frontdoor"}, RunID: "r1", Fault: "cutover", Heartbeat: "recsys/firedrill-run-r1"},
	}, marked)

	require.NoError(t, fc.p.Revert(ctx, f, targets[0]))
	require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "frontdoor"}, &s))
	require.Equal(t, map[string]string{"app": "recommender", "region": "east"}, s.Spec.Selector)
	require.NotContains(t, s.Annotations, AnnotationSelector)
	require.NotContains(t, s.Annotations, AnnotationRunID)
	marked, err = fc.p.Marked(ctx, "r1", "cutover")
	require.NoError(t, err)
	require.Empty(t, marked, "the whole region is back")

	switched := fc.events.of(evidence.EventTrafficSwitched, "cutover")
	require.Len(t, switched, 2, "one switch each way")
	require.Contains(t, switched[0].Message, "traffic switched east→west by Service recsys/frontdoor selector region in ")
	require.Contains(t, switched[1].Message, "traffic failed back west→east by Service recsys/frontdoor selector region in ")
	require.Equal(t, "region/east", switched[0].Target.String())
	require.Len(t, fc.events.of(evidence.EventTookEffect, "cutover"), 1)
}

func TestServiceSwitchIsRecoveredAfterACrash(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	crashed := newFake(t, spec, interceptor.Funcs{},
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Service("recsys", "frontdoor", map[string]string{"region": "east"}, nil),
		fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"region": "east"}))
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	targets, err := crashed.p.Targets(ctx, f)
	require.NoError(t, err)
	require.NoError(t, crashed.p.Inject(ctx, f, targets[0]))
	require.Equal(t, "west", selectorOf(t, crashed.c))

	// A new process, with no memory of the switch, recovers from the marks.
	later := newPlatform(Options{Spec: spec}, crashed.c, crashed.cs, crashed.cs.Discovery())
	require.NoError(t, later.Recover(ctx, f, nil))
	require.Equal(t, "east", selectorOf(t, crashed.c))
	marked, err := later.Marked(ctx, "r1", "")
	require.NoError(t, err)
	require.Empty(t, marked, "the region and the switch are restored")

	// A resumed run reverts in a process that did not switch: the Service
	// is restored from its marks all the same.
	first := newPlatform(Options{Spec: spec}, crashed.c, crashed.cs, crashed.cs.Discovery())
	require.NoError(t, first.Inject(ctx, f, targets[0]))
	require.Equal(t, "west", selectorOf(t, crashed.c))
	resumed := newPlatform(Options{Spec: spec}, crashed.c, crashed.cs, crashed.cs.Discovery())
	require.NoError(t, resumed.Revert(ctx, f, targets[0]))
	require.Equal(t, "east", selectorOf(t, crashed.c))
	marked, err = resumed.Marked(ctx, "r1", "")
	require.NoError(t, err)
	require.Empty(t, marked)
}

// TestARegionIsRecoveredFromItsMarks: the process of a drain cutover dies
// with the region down and traffic switched; a later process given the
// journaled region target, or no target at all (a journal that lost
// them), restores every node from its marks and fails traffic back.
func TestARegionIsRecoveredFromItsMarks(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverDrain)
	objs := []runtime.Object{
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2, fixtures.Cordoned),
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Service("recsys", "frontdoor", map[string]string{"region": "east"}, nil),
	}
	fc := newFake(t, spec, interceptor.Funcs{}, objs...)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Equal(t, "east-1", targets[0].Labels[LabelCutoverNodes], "a node someone else cordoned is no part of the cutover")
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	cordoned := func(name string) bool {
		var n corev1.Node
		require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Name: name}, &n))
		return n.Spec.Unschedulable
	}
	require.True(t, cordoned("east-1"))

	for _, journal := range [][]evidence.Target{targets, nil} {
		later := newPlatform(Options{Spec: spec}, fc.c, fc.cs, fc.cs.Discovery())
		require.NoError(t, later.Recover(ctx, f, journal))
		require.False(t, cordoned("east-1"))
		require.True(t, cordoned("east-2"), "a node cordoned before the drill stays cordoned")
		require.Equal(t, "east", selectorOf(t, fc.c))
		// The dead process's memory is gone; take the region down again.
		fc.p.log = faultlog.New(fc.p.opts.Clock)
		fc.p.log.SetRecorder(fc.events)
		require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	}
}

// TestRegionRestoreFailsBackAfterAPartialFailure: a revert of a drain
// cutover uncordons the whole region; when one uncordon fails, the revert
// fails without failing traffic back, and the repeated revert restores the
// rest and fails traffic back once.
func TestRegionRestoreFailsBackAfterAPartialFailure(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverDrain)
	failed, armed := false, false
	fc := newFake(t, spec, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
		if armed && obj.GetName() == "east-3" && !failed {
			failed = true
			return errors.New("the API server went away")
		}
		return c.Patch(ctx, obj, p, opts...)
	}},
		fixtures.Node("east-1", "east", "8", "32Gi", 2), fixtures.Node("east-2", "east", "8", "32Gi", 2), fixtures.Node("east-3", "east", "8", "32Gi", 2),
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil))
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	cordoned := func(name string) bool {
		var n corev1.Node
		require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Name: name}, &n))
		return n.Spec.Unschedulable
	}

	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []string{"region/east"}, []string{targets[0].String()})
	require.Equal(t, "east-1,east-2,east-3", targets[0].Labels[LabelCutoverNodes])
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	for _, n := range []string{"east-1", "east-2", "east-3"} {
		require.True(t, cordoned(n), "the region goes down at once: %s", n)
	}
	require.Equal(t, "west", selectorOf(t, fc.c))

	armed = true
	require.ErrorContains(t, fc.p.Revert(ctx, f, targets[0]), "the API server went away")
	require.False(t, cordoned("east-1"))
	require.True(t, cordoned("east-3"))
	require.Equal(t, "west", selectorOf(t, fc.c), "no fail-back while a node of the region is still down")

	require.NoError(t, fc.p.Revert(ctx, f, targets[0]))
	require.False(t, cordoned("east-3"))
	require.Equal(t, "east", selectorOf(t, fc.c), "the region is back: traffic fails back")
	require.NoError(t, fc.p.Revert(ctx, f, targets[0]))
	require.Len(t, fc.events.of(evidence.EventTrafficSwitched, "cutover"), 2, "switched once, failed back once")
	marked, err := fc.p.Marked(ctx, "r1", "cutover")
	require.NoError(t, err)
	require.Empty(t, marked)
}

// TestARegionCostsLinearRequests injects a 100-workload cutover and
// counts requests: taking the region down must not read every workload
// once per workload (that was 100×99/2 = 4,950 GETs when every workload
// was a target and the last one switched traffic).
func TestARegionCostsLinearRequests(t *testing.T) {
	ctx := context.Background()
	const n = 100
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	objs := []runtime.Object{fixtures.Node("west-1", "west", "8", "32Gi", 2), fixtures.Service("recsys", "frontdoor", map[string]string{"region": "east"}, nil)}
	for i := range n {
		objs = append(objs, fixtures.Deployment("recsys", fmt.Sprintf("rec-%03d", i), 1, map[string]string{"region": "east"}))
	}
	var calls fixtures.Calls
	fc := newFake(t, spec, callLog(&calls), objs...)
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	require.Len(t, strings.Split(targets[0].Labels[LabelCutoverWorkloads], ","), n)
	calls.Reset()
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	require.Equal(t, "west", selectorOf(t, fc.c))
	count := func(prefix string) int {
		return len(slices.DeleteFunc(calls.Lines(), func(l string) bool { return !strings.HasPrefix(l, prefix) }))
	}
	gets, lists, patches := count("get *v1.deployment"), count("list"), count("patch *v1.deployment")
	t.Logf("%d workloads: %d GETs, %d LISTs, %d patches", n, gets, lists, patches)
	require.Equal(t, n, patches)
	require.LessOrEqual(t, gets, n+5, "scaleToZero GETs each workload once")
	require.LessOrEqual(t, lists, 5)

	calls.Reset()
	require.NoError(t, fc.p.Revert(ctx, f, targets[0]))
	require.Equal(t, n, count("patch *v1.deployment"))
	require.LessOrEqual(t, count("get *v1.deployment"), n+5)
	require.LessOrEqual(t, count("list"), 5)
}

// TestTrafficFailsBackOnceTheRegionServes: the revert restores the
// region's workloads, then waits until they are ready before it moves
// traffic back, so new connections never reach pods that do not serve.
func TestTrafficFailsBackOnceTheRegionServes(t *testing.T) {
	ctx := context.Background()
	spec := cutoverSpec(&v1alpha1.CutoverSwitch{Service: &v1alpha1.ServiceSwitch{Name: "frontdoor"}}, v1alpha1.CutoverScaleToZero)
	spec.System.Workloads = []v1alpha1.WorkloadRef{{Kind: v1alpha1.WorkloadDeployment, Name: "recommender-east"}}
	east := fixtures.Deployment("recsys", "recommender-east", 2, map[string]string{"app": "recommender", "region": "east"})
	fc := newFake(t, spec, interceptor.Funcs{},
		fixtures.Node("west-1", "west", "8", "32Gi", 2),
		fixtures.Service("recsys", "frontdoor", map[string]string{"app": "recommender", "region": "east"}, nil),
		east, fixtures.Deployment("recsys", "recommender-west", 2, map[string]string{"app": "recommender", "region": "west"}))
	f := platform.Fault{ID: "cutover", RunID: "r1", Spec: spec.Steps[0].Fault}
	targets, err := fc.p.Targets(ctx, f)
	require.NoError(t, err)
	capacity := func() evidence.CapacityPoint {
		points, _, err := fc.p.CapacityPresent(ctx)
		require.NoError(t, err)
		require.Len(t, points, 1)
		return points[0]
	}
	require.Equal(t, 2, capacity().Desired, "before the cutover the region desires its replicas")
	require.NoError(t, fc.p.Inject(ctx, f, targets[0]))
	require.Equal(t, "west", selectorOf(t, fc.c))
	require.Zero(t, capacity().Desired, "a region lost on purpose desires nothing during the failover")

	reverted := make(chan error, 1)
	go func() { reverted <- fc.p.Revert(ctx, f, targets[0]) }()
	require.Eventually(t, func() bool {
		var d appsv1.Deployment
		require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "recommender-east"}, &d))
		return *d.Spec.Replicas == 2
	}, 5*time.Second, 10*time.Millisecond, "the region is restored first")
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, "west", selectorOf(t, fc.c), "traffic waits while the restored pods are not ready")
	pt := capacity()
	require.Equal(t, [2]int{2, 0}, [2]int{pt.Desired, pt.Ready}, "from the revert on, its shortfall is the fail-back's")

	var d appsv1.Deployment
	require.NoError(t, fc.c.Get(ctx, client.ObjectKey{Namespace: "recsys", Name: "recommender-east"}, &d))
	d.Status.ReadyReplicas = 2
	require.NoError(t, fc.c.Status().Update(ctx, &d))
	require.NoError(t, <-reverted)
	require.Equal(t, "east", selectorOf(t, fc.c), "and fails back once they serve")
}
