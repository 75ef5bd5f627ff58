package abort

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/cmd/follow/followtest"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/controller/runs"
)

// cluster holds one run; once its spec.abort is set, reads show it end
// in phase end (as drill serve would write it).
func cluster(t *testing.T, phase v1alpha1.RunPhase, end v1alpha1.RunPhase) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	run := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "nightly-x7k2p", Namespace: "recsys"},
		Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}}}
	run.Status = followtest.Script()[2]
	run.Status.Phase = phase
	return fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(run).WithObjects(run).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := c.Get(ctx, key, obj, opts...); err != nil {
				return err
			}
			r, ok := obj.(*v1alpha1.DrillRun)
			if !ok || !r.Spec.Abort || r.Status.Phase.IsTerminal() {
				return nil
			}
			r.Status = followtest.Aborting(r.Status)
			r.Status.Phase, r.Status.Verdict, r.Status.CompletionTime = end, v1alpha1.VerdictNotJudged, &metav1.MicroTime{Time: followtest.T0.Add(7 * time.Second)}
			r.Status.Message = "aborted on request; every active fault was reverted"
			if err := c.Status().Update(ctx, r); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
}

func TestAbort(t *testing.T) {
	tests := []struct {
		name   string
		phase  v1alpha1.RunPhase
		end    v1alpha1.RunPhase
		run    string
		wait   bool
		code   int
		stderr string
		stdout string
	}{
		{name: "a running drill is aborted and followed until its faults are reverted", phase: v1alpha1.RunRunning, end: v1alpha1.RunAborted,
			run: "nightly-x7k2p", wait: true, code: 0, stderr: "aborting   aborted on request (p99 pages)", stdout: "Aborted, verdict NotJudged"},
		{name: "an abort that ends Error may have left a fault", phase: v1alpha1.RunRunning, end: v1alpha1.RunError,
			run: "nightly-x7k2p", wait: true, code: 1, stdout: "Error, verdict NotJudged"},
		{name: "--wait=false only asks", phase: v1alpha1.RunRunning, end: v1alpha1.RunAborted,
			run: "nightly-x7k2p", code: 0, stdout: "drillrun/nightly-x7k2p abort requested"},
		{name: "a finished run has nothing to abort", phase: v1alpha1.RunSucceeded,
			run: "nightly-x7k2p", wait: true, code: 2, stderr: "already finished (Succeeded); nothing to abort"},
		{name: "a missing run", phase: v1alpha1.RunRunning, run: "nope", wait: true, code: 2, stderr: "run nope not found in namespace recsys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cluster(t, tt.phase, tt.end)
			var out, errOut bytes.Buffer
			err := run(t.Context(), Options{Run: tt.run, Reason: "p99 pages", Command: follow.Command{Wait: tt.wait, Output: output.Text, Out: &out, Err: &errOut, Poll: time.Millisecond,
				Connect: func(follow.Cluster) (client.Client, string, error) { return c, "recsys", nil }}})
			require.Equal(t, tt.code, exitcode.Of(err), "%v\n%s", err, errOut.String())
			require.Contains(t, errOut.String(), tt.stderr)
			require.Contains(t, out.String(), tt.stdout)
			if tt.phase == v1alpha1.RunRunning && tt.run != "nope" {
				var r v1alpha1.DrillRun
				require.NoError(t, c.Get(t.Context(), types.NamespacedName{Namespace: "recsys", Name: tt.run}, &r))
				require.True(t, r.Spec.Abort)
				require.True(t, strings.HasPrefix(r.Annotations[runs.AnnotationAbortReason], "p99 pages"))
			}
		})
	}
}
