package lease

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/platform/kube/internal/fixtures"
)

// beat starts the heartbeat of run r1 in namespace recsys over c with a
// fake clock, and stops it at the end of the test.
func beat(t *testing.T, c client.Client) (*Heartbeat, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(epoch)
	hb, err := Start(t.Context(), Options{Client: c, Clock: clk, Namespace: "recsys", RunID: "r1", Holder: Holder{Host: "laptop", PID: 42}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = hb.Stop(context.Background()) })
	return hb, clk
}

// tick moves the clock one interval on, once the renew loop waits for it.
func tick(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	require.Eventually(t, clk.HasWaiters, 5*time.Second, time.Millisecond, "the renew loop is waiting")
	clk.Step(DefaultInterval)
}

func getLease(t *testing.T, c client.Client) *coordinationv1.Lease {
	t.Helper()
	l, err := Get(t.Context(), c, Key{Namespace: "recsys", Name: "firedrill-run-r1"})
	require.NoError(t, err)
	return l
}

func TestHeartbeatIsRenewedUntilStopThenDeleted(t *testing.T) {
	c := fixtures.Client(t, interceptor.Funcs{})
	hb, clk := beat(t, c)
	require.Equal(t, "recsys/firedrill-run-r1", hb.Key().String())
	l := getLease(t, c)
	require.NotNil(t, l, "the Lease exists when Start returns")
	require.True(t, epoch.Equal(l.Spec.RenewTime.Time))
	require.Equal(t, int32(15), *l.Spec.LeaseDurationSeconds)

	for i := 1; i <= 3; i++ {
		tick(t, clk)
		want := epoch.Add(time.Duration(i) * DefaultInterval)
		require.Eventually(t, func() bool { return getLease(t, c).Spec.RenewTime.Time.Equal(want) }, 5*time.Second, time.Millisecond,
			"renewal %d", i)
		require.Equal(t, Live, Judge(hb.Key(), getLease(t, c), "r1", clk.Now(), DefaultGrace).State)
	}
	require.NoError(t, hb.Err())
	require.NoError(t, hb.Stop(t.Context()))
	require.Nil(t, getLease(t, c), "a finished run's heartbeat is deleted")
}

func TestHeartbeatTakesOverItsRunsLeaseOnly(t *testing.T) {
	ctx := t.Context()
	c := fixtures.Client(t, interceptor.Funcs{})
	old := renewedAt("r1", epoch.Add(-time.Hour))
	old.Namespace = "recsys"
	require.NoError(t, c.Create(ctx, old))
	beat(t, c)
	require.True(t, epoch.Equal(getLease(t, c).Spec.RenewTime.Time), "a Lease a dead process of the same run left is taken over")

	_, err := Start(ctx, Options{Client: c, Namespace: "recsys", RunID: "R1"})
	require.EqualError(t, err, `heartbeat Lease recsys/firedrill-run-r1 is held by run "r1", not by run R1`)
}

func TestHeartbeatIsLostWhenItsLeaseIsDeleted(t *testing.T) {
	c := fixtures.Client(t, interceptor.Funcs{})
	hb, clk := beat(t, c)
	require.NoError(t, c.Delete(t.Context(), getLease(t, c)))
	tick(t, clk)
	require.Eventually(t, func() bool { return hb.Err() != nil }, 5*time.Second, time.Millisecond)
	require.ErrorContains(t, hb.Err(), "heartbeat Lease recsys/firedrill-run-r1 was deleted: another process took run r1 for dead")
	require.NoError(t, hb.Stop(t.Context()))
	require.Nil(t, getLease(t, c), "a lost heartbeat is not recreated")
}

func TestHeartbeatIsLostAfterAGraceWithoutRenewal(t *testing.T) {
	var failing atomic.Bool
	c := fixtures.Client(t, interceptor.Funcs{Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
		if failing.Load() {
			return errors.New("connection refused")
		}
		return c.Update(ctx, obj, opts...)
	}})
	hb, clk := beat(t, c)
	failing.Store(true)
	for i := 1; i <= 2; i++ {
		tick(t, clk)
	}
	require.Eventually(t, clk.HasWaiters, 5*time.Second, time.Millisecond)
	require.NoError(t, hb.Err(), "two failed renewals are within the grace")
	failing.Store(false)
	tick(t, clk)
	require.Eventually(t, func() bool { return getLease(t, c).Spec.RenewTime.Time.Equal(epoch.Add(3 * DefaultInterval)) }, 5*time.Second, time.Millisecond,
		"a renewal that succeeds again restores the heartbeat")

	failing.Store(true)
	for i := 1; i <= 3; i++ {
		tick(t, clk)
	}
	require.Eventually(t, func() bool { return hb.Err() != nil }, 5*time.Second, time.Millisecond)
	require.ErrorContains(t, hb.Err(), "heartbeat Lease recsys/firedrill-run-r1 was not renewed for 15s, its grace (last error: connection refused)")
}

func TestDeleteLeavesARenewedLease(t *testing.T) {
	ctx := t.Context()
	c := fixtures.Client(t, interceptor.Funcs{})
	l := renewedAt("r1", epoch)
	l.Namespace = "recsys"
	require.NoError(t, c.Create(ctx, l))
	seen := getLease(t, c)
	renewed := seen.DeepCopy()
	renewed.Spec.RenewTime.Time = epoch.Add(time.Second)
	require.NoError(t, c.Update(ctx, renewed))
	require.ErrorIs(t, Delete(ctx, c, seen), ErrRenewed)
	require.NotNil(t, getLease(t, c))
	require.NoError(t, Delete(ctx, c, getLease(t, c)))
	require.Nil(t, getLease(t, c))
	require.NoError(t, Delete(ctx, c, seen), "a Lease already gone is fine")
}

func TestOptionsAreChecked(t *testing.T) {
	c := fixtures.Client(t, interceptor.Funcs{})
	_, err := Start(t.Context(), Options{Client: c, Namespace: "recsys"})
	require.ErrorContains(t, err, "a run id are required")
	_, err = Start(t.Context(), Options{Client: c, Namespace: "recsys", RunID: "r1", Interval: time.Minute, Grace: time.Minute})
	require.ErrorContains(t, err, "must be longer than the renew interval")
}
