package follow_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/testing/syncbuf"
)

// countingReader counts the follower's reads of the run.
type countingReader struct {
	client.Reader
	mu sync.Mutex
	n  int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Reader.Get(ctx, key, obj, opts...)
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	return err
}

func (r *countingReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestRunSaysWhenNoDrillServeClaimsTheRun: a run nobody starts (drill serve
// down, or not watching the namespace) is not followed in silence: once,
// after UnclaimedAfter, following says so; a run that a replica claimed
// never gets the warning.
func TestRunSaysWhenNoDrillServeClaimsTheRun(t *testing.T) {
	const warning = "has not started after 30s: no drill serve has claimed it; is drill serve running, and does its --watch-namespace include recsys?"
	tests := []struct {
		name   string
		status v1alpha1.DrillRunStatus
		after  time.Duration
		warns  bool
	}{
		{name: "unclaimed for 29 s", after: 29 * time.Second},
		{name: "unclaimed for 30 s", after: 30 * time.Second, warns: true},
		{name: "pending for a minute", status: v1alpha1.DrillRunStatus{RunResult: v1alpha1.RunResult{Phase: v1alpha1.RunPending}}, after: time.Minute, warns: true},
		{name: "claimed and running", status: v1alpha1.DrillRunStatus{RunResult: v1alpha1.RunResult{Phase: v1alpha1.RunRunning}, Runner: "replica-a"}, after: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			require.NoError(t, v1alpha1.AddToScheme(scheme))
			run := &v1alpha1.DrillRun{ObjectMeta: metav1.ObjectMeta{Namespace: "recsys", Name: "nightly-1"}, Status: tt.status}
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(run).WithStatusSubresource(run).Build()
			clk := clocktesting.NewFakeClock(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
			var errOut syncbuf.Buffer
			reads := &countingReader{Reader: c}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := follow.Run(ctx, follow.Options{Client: reads, Key: types.NamespacedName{Namespace: "recsys", Name: "nightly-1"},
					Out: &bytes.Buffer{}, Err: &errOut, Poll: time.Second, Clock: clk})
				done <- err
			}()
			// One read at the start, then one a tick: step a second at a
			// time once the follower has read the run for the last one. It
			// judges each read before it waits again, so after the last
			// read cancelling loses no warning.
			ticks := int(tt.after / time.Second)
			for i := range ticks {
				require.Eventually(t, func() bool { return reads.count() == i+1 }, 5*time.Second, time.Millisecond)
				clk.Step(time.Second)
			}
			require.Eventually(t, func() bool { return reads.count() == ticks+1 }, 5*time.Second, time.Millisecond)
			cancel()
			require.ErrorIs(t, <-done, follow.ErrStopped)
			got := strings.Count(errOut.String(), warning)
			if tt.warns {
				require.Equal(t, 1, got, errOut.String())
			} else {
				require.Zero(t, got, errOut.String())
			}
		})
	}
}
