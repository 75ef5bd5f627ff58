package gpu

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
	"github.com/firedrill/firedrill/pkg/platform/kube/marks"
	"github.com/firedrill/firedrill/pkg/platform/kube/objects"
)

const key = v1alpha1.DefaultGPUTaintKey

// observer records what a failure reported.
type observer struct {
	effects int
	notes   []string
}

func (o *observer) TookEffect()     { o.effects++ }
func (o *observer) Note(msg string) { o.notes = append(o.notes, msg) }

func getNode(t *testing.T, c client.Client, name string) *corev1.Node {
	t.Helper()
	var n corev1.Node
	require.NoError(t, c.Get(t.Context(), client.ObjectKey{Name: name}, &n))
	return &n
}

func podNames(t *testing.T, c client.Client) []string {
	t.Helper()
	var list corev1.PodList
	require.NoError(t, c.List(t.Context(), &list))
	var out []string
	for i := range list.Items {
		out = append(out, objects.PodKey(&list.Items[i]))
	}
	return out
}

// objs are a node a of gpus GPUs running pods, and a node b with room.
func objs(gpus int64, pods ...corev1.Pod) []runtime.Object {
	out := []runtime.Object{fixtures.Node("a", "east", "8", "32Gi", gpus), fixtures.Node("b", "east", "8", "32Gi", 4)}
	for i := range pods {
		out = append(out, &pods[i])
	}
	return out
}

func gpuPod(name string, minutes int) corev1.Pod {
	return fixtures.Pod("recsys", name, "a", "1", "1Gi", 1, fixtures.Owned, aged(minutes))
}

func TestAPartialFailureDropsAllocatableAndDeletesTheYoungestPod(t *testing.T) {
	ctx := t.Context()
	m := marks.Mark{RunID: "r1", Fault: "gpu", Heartbeat: "recsys/firedrill-run-r1"}
	calls := &fixtures.Calls{}
	c := fixtures.Client(t, fixtures.PodsByNode(calls), objs(2, gpuPod("old", 1), gpuPod("young", 2))...)
	f := Failer{Client: c, Allowed: []string{"recsys"}}
	var obs observer
	s := Settings{GPUs: 1, TaintKey: key, Grace: &metav1.Duration{}}
	require.NoError(t, f.Fail(ctx, "a", m, s, &obs))
	n := getNode(t, c, "a")
	require.Equal(t, int64(1), Allocatable(n), "the allocatable the scheduler honours drops by the failed GPUs")
	capacity := n.Status.Capacity[objects.ResourceGPU]
	require.Equal(t, int64(2), capacity.Value(), "capacity stays, as the kubelet reports an unhealthy device")
	require.Empty(t, n.Spec.Taints, "a node with a GPU left is not tainted")
	require.Equal(t, "r1", n.Annotations[marks.AnnotationRunID])
	require.Equal(t, "recsys/firedrill-run-r1", n.Annotations[marks.AnnotationHeartbeat])
	require.JSONEq(t, `{"allocatable":2,"failed":1}`, n.Annotations[marks.AnnotationGPUFailure])
	require.Equal(t, []string{"recsys/old"}, podNames(t, c))
	require.Equal(t, 1, obs.effects)
	require.Equal(t, []string{"node a lost 1 of 2 GPUs (nvidia.com/gpu allocatable 2 → 1); its GPU pods that no longer fit were deleted: recsys/young"}, obs.notes)

	require.NoError(t, f.Fail(ctx, "a", m, s, &obs), "fail is idempotent")
	require.Equal(t, []string{"recsys/old"}, podNames(t, c), "the pod that kept its GPU keeps it")
	require.Len(t, obs.notes, 1)

	ok, err := Restore(ctx, c, "a", m)
	require.NoError(t, err)
	require.True(t, ok)
	n = getNode(t, c, "a")
	require.Equal(t, int64(2), Allocatable(n))
	for _, k := range []string{marks.AnnotationRunID, marks.AnnotationFault, marks.AnnotationHeartbeat, marks.AnnotationGPUFailure} {
		require.NotContains(t, n.Annotations, k)
	}
	ok, err = Restore(ctx, c, "a", m)
	require.NoError(t, err)
	require.False(t, ok, "a restored node carries no record any more")
}

func TestAFullFailureTaintsTheNodeLastAndRestoreRemovesOnlyItsTaint(t *testing.T) {
	ctx := t.Context()
	m := marks.Mark{RunID: "r1", Fault: "gpu"}
	var order []string
	funcs := fixtures.PodsByNode(nil)
	funcs.Patch = func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
		order = append(order, "patch node")
		return c.Patch(ctx, obj, p, opts...)
	}
	funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		order = append(order, "patch node/"+sub)
		return c.SubResource(sub).Patch(ctx, obj, p, opts...)
	}
	del := funcs.Delete
	funcs.Delete = func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
		order = append(order, "delete "+obj.GetName())
		return del(ctx, c, obj, opts...)
	}
	node := fixtures.Node("a", "east", "8", "32Gi", 2, fixtures.Tainted("kwok.x-k8s.io/node"))
	pods := []corev1.Pod{gpuPod("p", 1), gpuPod("q", 2), fixtures.Pod("recsys", "cpu", "a", "1", "1Gi", 0, fixtures.Owned)}
	c := fixtures.Client(t, funcs, node, fixtures.Node("b", "east", "8", "32Gi", 4), &pods[0], &pods[1], &pods[2])
	f := Failer{Client: c, Allowed: []string{"recsys"}}
	var obs observer
	require.NoError(t, f.Fail(ctx, "a", m, Settings{TaintKey: key}, &obs))
	require.Equal(t, []string{"patch node", "patch node/status", "delete p", "delete q", "patch node"}, order,
		"the record first, then the GPUs, then the pods on them, then the taint")
	n := getNode(t, c, "a")
	require.Zero(t, Allocatable(n))
	require.Equal(t, []corev1.Taint{{Key: "kwok.x-k8s.io/node", Value: "fake", Effect: corev1.TaintEffectNoSchedule}, Taint(key)}, n.Spec.Taints)
	require.JSONEq(t, `{"allocatable":2,"failed":2,"taint":"nvidia.com/gpu.unhealthy"}`, n.Annotations[marks.AnnotationGPUFailure])
	require.Equal(t, []string{"recsys/cpu"}, podNames(t, c), "the CPU pod is the taint-eviction controller's to evict")
	require.Contains(t, obs.notes, "node a lost 2 of 2 GPUs (nvidia.com/gpu allocatable 2 → 0) and was tainted nvidia.com/gpu.unhealthy:NoExecute; its GPU pods that no longer fit were deleted: recsys/p, recsys/q")

	ok, err := Restore(ctx, c, "a", m)
	require.NoError(t, err)
	require.True(t, ok)
	n = getNode(t, c, "a")
	require.Equal(t, int64(2), Allocatable(n))
	require.Equal(t, []corev1.Taint{{Key: "kwok.x-k8s.io/node", Value: "fake", Effect: corev1.TaintEffectNoSchedule}}, n.Spec.Taints)
}

func TestACrashAnywhereInAFailureIsRestoredFromTheRecord(t *testing.T) {
	m := marks.Mark{RunID: "r1", Fault: "gpu"}
	tests := []struct {
		name string
		// failAt is the call that dies: the crash.
		failAt string
	}{
		{name: "after the record, before the allocatable", failAt: "patch node/status"},
		{name: "after the allocatable, before the pods", failAt: "delete"},
		{name: "after the pods, before the taint", failAt: "patch taint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			crashed := errors.New("killed -9")
			patches := 0
			funcs := fixtures.PodsByNode(nil)
			funcs.Patch = func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				if patches++; patches == 2 && tt.failAt == "patch taint" {
					return crashed
				}
				return c.Patch(ctx, obj, p, opts...)
			}
			funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				if tt.failAt == "patch node/status" {
					return crashed
				}
				return c.SubResource(sub).Patch(ctx, obj, p, opts...)
			}
			funcs.Delete = func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				if tt.failAt == "delete" {
					return crashed
				}
				return c.Delete(ctx, obj, opts...)
			}
			c := fixtures.Client(t, funcs, objs(2, gpuPod("p", 1))...)
			err := Failer{Client: c, Allowed: []string{"recsys"}}.Fail(ctx, "a", m, Settings{TaintKey: key}, &observer{})
			require.ErrorIs(t, err, crashed)
			require.Equal(t, "r1", getNode(t, c, "a").Annotations[marks.AnnotationRunID], "the record was written before anything changed")

			// drill cleanup, in another process: no state but the marks.
			c2 := fixtures.Client(t, interceptor.Funcs{}, getNode(t, c, "a"))
			ok, err := Restore(ctx, c2, "a", marks.Mark{RunID: "r1", Fault: "gpu"})
			require.NoError(t, err)
			require.True(t, ok)
			n := getNode(t, c2, "a")
			require.Equal(t, int64(2), Allocatable(n))
			require.Empty(t, n.Spec.Taints)
			require.NotContains(t, n.Annotations, marks.AnnotationGPUFailure)
		})
	}
}

func TestARefusedFailureTouchesNothing(t *testing.T) {
	tests := []struct {
		name    string
		pods    []corev1.Pod
		others  []runtime.Object
		gpus    int64
		wantErr string
	}{
		{name: "a GPU pod with nowhere to go", pods: []corev1.Pod{gpuPod("p", 1)},
			others:  []runtime.Object{fixtures.Node("b", "east", "8", "32Gi", 0)},
			wantErr: "refusing to fail GPUs: insufficient capacity (onInsufficientCapacity: refuse): failing 1 of the 1 GPUs of node a"},
		{name: "a pod outside safety.namespaces", pods: []corev1.Pod{fixtures.Pod("billing", "b", "a", "1", "1Gi", 1, fixtures.Owned)},
			others: []runtime.Object{fixtures.Node("b", "east", "8", "32Gi", 4)}, wantErr: "refusing to fail the GPUs of node a: it would remove pods outside safety.namespaces: billing/b"},
		{name: "more GPUs than the node has", others: []runtime.Object{fixtures.Node("b", "east", "8", "32Gi", 4)}, gpus: 2,
			wantErr: "node a has 1 allocatable nvidia.com/gpu; gpus: 2 fails more than it has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append([]runtime.Object{fixtures.Node("a", "east", "8", "32Gi", 1)}, tt.others...)
			for i := range tt.pods {
				all = append(all, &tt.pods[i])
			}
			touched := false
			funcs := interceptor.Funcs{
				Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
					touched = true
					return errors.New("no patch expected")
				},
				Delete: func(context.Context, client.WithWatch, client.Object, ...client.DeleteOption) error {
					touched = true
					return errors.New("no delete expected")
				},
			}
			c := fixtures.Client(t, funcs, all...)
			var obs observer
			err := Failer{Client: c, Allowed: []string{"recsys"}}.Fail(t.Context(), "a", marks.Mark{RunID: "r1", Fault: "gpu"},
				Settings{GPUs: tt.gpus, TaintKey: key, Policy: v1alpha1.CapacityRefuse}, &obs)
			require.ErrorContains(t, err, tt.wantErr)
			require.False(t, touched)
			require.Zero(t, obs.effects)
		})
	}
}

func TestAShortfallUnderWarnIsNoted(t *testing.T) {
	p := gpuPod("p", 1)
	c := fixtures.Client(t, fixtures.PodsByNode(nil), fixtures.Node("a", "east", "8", "32Gi", 1), fixtures.Node("b", "east", "8", "32Gi", 0), &p)
	var obs observer
	require.NoError(t, Failer{Client: c, Allowed: []string{"recsys"}}.Fail(t.Context(), "a", marks.Mark{RunID: "r1", Fault: "gpu"},
		Settings{TaintKey: key, Policy: v1alpha1.CapacityWarn}, &obs))
	require.Contains(t, obs.notes[0], "failed GPUs despite insufficient capacity (onInsufficientCapacity: warn): failing 1 of the 1 GPUs of node a")
	require.Contains(t, obs.notes[0], "1 pods fit on no other node and stay Pending until revert: recsys/p")
}

func TestRestoreLeavesWhatIsNotItsOwn(t *testing.T) {
	ctx := t.Context()
	m := marks.Mark{RunID: "r1", Fault: "gpu"}
	record := func(allocatable int64, rec string) fixtures.NodeOpt {
		return func(n *corev1.Node) {
			n.Annotations = map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "gpu", marks.AnnotationGPUFailure: rec}
			n.Status.Allocatable[objects.ResourceGPU] = *resource.NewQuantity(allocatable, resource.DecimalSI)
		}
	}
	tests := []struct {
		name      string
		node      *corev1.Node
		wantOK    bool
		wantAlloc int64
		wantErr   string
		wantMarks bool
	}{
		{name: "a kubelet restored the allocatable meanwhile: it is left as the kubelet set it",
			node: fixtures.Node("a", "east", "8", "32Gi", 4, record(3, `{"allocatable":4,"failed":4}`)), wantOK: true, wantAlloc: 3},
		{name: "a node cordoned by a drain is not a GPU failure's",
			node:      fixtures.Node("a", "east", "8", "32Gi", 4, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r1", marks.AnnotationFault: "gpu", marks.AnnotationWasUnschedulable: "false"})),
			wantAlloc: 4, wantMarks: true},
		{name: "another run's GPU failure is left alone",
			node:      fixtures.Node("a", "east", "8", "32Gi", 4, record(0, `{"allocatable":4,"failed":4}`), func(n *corev1.Node) { n.Annotations[marks.AnnotationRunID] = "r0" }),
			wantAlloc: 0, wantMarks: true},
		{name: "a broken record is an error that says what to restore by hand",
			node: fixtures.Node("a", "east", "8", "32Gi", 4, record(0, `{"allocatable":4}`)), wantOK: true, wantAlloc: 0, wantMarks: true,
			wantErr: `node a: annotation firedrill.dev/gpu-failure="{\"allocatable\":4}" is not a GPU failure record: restore the node's nvidia.com/gpu allocatable by hand`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixtures.Client(t, interceptor.Funcs{}, tt.node)
			ok, err := Restore(ctx, c, "a", m)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantOK, ok)
			n := getNode(t, c, "a")
			require.Equal(t, tt.wantAlloc, Allocatable(n))
			_, marked := n.Annotations[marks.AnnotationRunID]
			require.Equal(t, tt.wantMarks, marked)
		})
	}
	ok, err := Restore(ctx, fixtures.Client(t, interceptor.Funcs{}), "gone", m)
	require.NoError(t, err, "a node that is gone is fine")
	require.False(t, ok)
}

func TestAForeignNodeIsRefused(t *testing.T) {
	n := fixtures.Node("a", "east", "8", "32Gi", 2, fixtures.Annotated(map[string]string{marks.AnnotationRunID: "r0", marks.AnnotationFault: "drain"}))
	c := fixtures.Client(t, interceptor.Funcs{}, n)
	err := Failer{Client: c}.Fail(t.Context(), "a", marks.Mark{RunID: "r1", Fault: "gpu"}, Settings{}, &observer{})
	require.EqualError(t, err, "node a is held by run r0 (step drain); run drill cleanup if that run is dead")
}
