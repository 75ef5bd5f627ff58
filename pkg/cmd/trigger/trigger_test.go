package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/exitcode"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/cmd/follow/followtest"
	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/controller/runs"
	"github.com/firedrill/firedrill/pkg/report"
	"github.com/firedrill/firedrill/pkg/testing/golden"
)

func plan(edit func(*v1alpha1.DrillPlan)) *v1alpha1.DrillPlan {
	p := &v1alpha1.DrillPlan{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "recsys", UID: "plan-uid"},
		Spec: v1alpha1.DrillPlanSpec{Steps: []v1alpha1.Step{{Name: "baseline", Wait: &metav1.Duration{Duration: time.Second}}}}}
	if edit != nil {
		edit(p)
	}
	return p
}

// scripted is a fake cluster in which drill serve writes statuses from a
// script: each read of a run created by the test shows the next one.
type scripted struct {
	mu     sync.Mutex
	script []v1alpha1.DrillRunStatus
	reads  map[string]int
	c      client.Client
	// onRead runs before each read of a created run (nil: none).
	onRead func(c client.Client, r *v1alpha1.DrillRun)
}

func newScripted(t *testing.T, script []v1alpha1.DrillRunStatus, objs ...client.Object) *scripted {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	s := &scripted{script: script, reads: map[string]int{}}
	s.c = fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.DrillRun{}).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			r, ok := obj.(*v1alpha1.DrillRun)
			if !ok {
				return c.Get(ctx, key, obj, opts...)
			}
			if err := c.Get(ctx, key, r); err != nil {
				return err
			}
			if s.onRead != nil {
				s.onRead(c, r)
			}
			s.mu.Lock()
			i := min(s.reads[key.Name], len(s.script)-1)
			s.reads[key.Name]++
			s.mu.Unlock()
			r.Status = *s.script[i].DeepCopy()
			if err := c.Status().Update(ctx, r); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	return s
}

func (s *scripted) connect(follow.Cluster) (client.Client, string, error) { return s.c, "recsys", nil }

func TestTriggerFollowsTheRunToItsVerdict(t *testing.T) {
	s := newScripted(t, followtest.Script(), plan(nil))
	var out, errOut bytes.Buffer
	err := run(t.Context(), Options{Plan: "nightly", RequestedBy: "drill trigger (alice)",
		Command: follow.Command{Wait: true, Output: output.Text, Out: &out, Err: &errOut, Connect: s.connect, Poll: time.Millisecond}})
	require.NoError(t, err, errOut.String())

	var list v1alpha1.DrillRunList
	require.NoError(t, s.c.List(t.Context(), &list))
	require.Len(t, list.Items, 1)
	dr := list.Items[0]
	require.Equal(t, v1alpha1.TriggerManual, dr.Spec.Trigger)
	require.Equal(t, runs.Hash(plan(nil)), dr.Spec.PlanHash)
	require.Equal(t, "drill trigger (alice)", dr.Annotations[runs.AnnotationRequestedBy])

	// The generated name and the periodic status lines vary; the rest is
	// what a person reads.
	golden.Assert(t, filepath.Join("testdata", "trigger.stdout"), out.Bytes())
	progress := bytes.ReplaceAll(errOut.Bytes(), []byte(dr.Name), []byte("nightly-XXXXX"))
	golden.Assert(t, filepath.Join("testdata", "trigger.stderr"), withoutStatusLines(progress))
}

func withoutStatusLines(b []byte) []byte {
	var keep [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(l, []byte("active faults:")) {
			keep = append(keep, l)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

func TestTriggerExitCodes(t *testing.T) {
	last := followtest.Script()[len(followtest.Script())-1]
	failed := *last.DeepCopy()
	failed.Phase, failed.Verdict = v1alpha1.RunFailed, v1alpha1.VerdictFail
	aborted := *last.DeepCopy()
	aborted.Phase, aborted.Verdict, aborted.Message = v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, "aborted on request"
	interrupted := *last.DeepCopy()
	interrupted.Phase, interrupted.Verdict = v1alpha1.RunInterrupted, v1alpha1.VerdictNotJudged
	tests := []struct {
		name string
		end  v1alpha1.DrillRunStatus
		code int
	}{
		{name: "succeeded", end: last, code: 0},
		{name: "failed", end: failed, code: 1},
		{name: "aborted", end: aborted, code: 2},
		{name: "interrupted", end: interrupted, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, []v1alpha1.DrillRunStatus{{}, tt.end}, plan(nil))
			var out, errOut bytes.Buffer
			err := run(t.Context(), Options{Plan: "nightly", Command: follow.Command{Wait: true, Output: output.JSON, Out: &out, Err: &errOut, Connect: s.connect, Poll: time.Millisecond}})
			require.Equal(t, tt.code, exitcode.Of(err), errOut.String())
			var rep report.Report
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
			require.Equal(t, tt.end.Phase, rep.Phase)
		})
	}
}

func TestTriggerRefusals(t *testing.T) {
	active := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Name: "nightly-20261208-030000", Namespace: "recsys"},
		Spec: v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}}}
	active.Status.Phase = v1alpha1.RunRunning
	t.Run("a plan with an active run", func(t *testing.T) {
		s := newScripted(t, nil, plan(nil), active)
		var errOut bytes.Buffer
		err := run(t.Context(), Options{Plan: "nightly", Command: follow.Command{Wait: true, Out: &bytes.Buffer{}, Err: &errOut, Connect: s.connect}})
		require.Equal(t, 2, exitcode.Of(err))
		require.Contains(t, errOut.String(), "plan recsys/nightly has 1 active run(s): nightly-20261208-030000 (concurrencyPolicy Forbid)")
	})
	t.Run("a missing plan", func(t *testing.T) {
		s := newScripted(t, nil)
		err := run(t.Context(), Options{Plan: "nightly", Command: follow.Command{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Connect: s.connect}})
		require.EqualError(t, err, "plan nightly not found in namespace recsys")
	})
	t.Run("--wait=false prints the run and returns", func(t *testing.T) {
		s := newScripted(t, nil, plan(nil))
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), Options{Plan: "nightly", Command: follow.Command{Out: &out, Err: &bytes.Buffer{}, Connect: s.connect}}))
		require.Regexp(t, `^drillrun/nightly-\w+\n$`, out.String())
	})
}

func TestCtrlCAbortsTheRunAndFollowsItToItsEnd(t *testing.T) {
	script := followtest.Script()
	aborted := *script[len(script)-1].DeepCopy()
	aborted.Phase, aborted.Verdict, aborted.Message = v1alpha1.RunAborted, v1alpha1.VerdictNotJudged, "aborted on request (drill trigger was interrupted); every active fault was reverted"
	ctx, cancel := context.WithCancel(t.Context())
	s := newScripted(t, []v1alpha1.DrillRunStatus{script[1], script[2]}, plan(nil))
	s.onRead = func(c client.Client, r *v1alpha1.DrillRun) {
		if r.Spec.Abort {
			s.mu.Lock()
			s.script = []v1alpha1.DrillRunStatus{aborted}
			s.mu.Unlock()
			return
		}
		if s.reads[r.Name] >= 3 {
			cancel() // Ctrl-C while the drain is on
		}
	}
	var out, errOut bytes.Buffer
	err := run(ctx, Options{Plan: "nightly", Command: follow.Command{Wait: true, Output: output.Text, Out: &out, Err: &errOut, Connect: s.connect, Poll: time.Millisecond}})
	require.Equal(t, 2, exitcode.Of(err), errOut.String())
	require.Contains(t, errOut.String(), "interrupted: asking drill serve to abort run recsys/")
	require.Contains(t, out.String(), "Aborted, verdict NotJudged")
	var list v1alpha1.DrillRunList
	require.NoError(t, s.c.List(t.Context(), &list))
	require.True(t, list.Items[0].Spec.Abort)
	require.Equal(t, "drill trigger was interrupted", list.Items[0].Annotations[runs.AnnotationAbortReason])
}
