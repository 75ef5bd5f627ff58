package lease

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var epoch = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func renewedAt(holder string, at time.Time) *coordinationv1.Lease {
	l := build(Key{Namespace: "recsys", Name: Name(holder)}, holder, Holder{Host: "laptop", PID: 42}, DefaultGrace, at)
	return l
}

func TestJudge(t *testing.T) {
	key := Key{Namespace: "recsys", Name: "firedrill-run-r1"}
	tests := []struct {
		name      string
		key       Key
		lease     *coordinationv1.Lease
		wantState State
		wantAge   time.Duration
		wantText  string
	}{
		{name: "a heartbeat renewed within the grace is live", key: key, lease: renewedAt("r1", epoch.Add(-4*time.Second)),
			wantState: Live, wantAge: 4 * time.Second, wantText: "heartbeat Lease recsys/firedrill-run-r1 renewed 4s ago by pid 42 on host laptop"},
		{name: "a heartbeat renewed exactly the grace ago is still live", key: key, lease: renewedAt("r1", epoch.Add(-DefaultGrace)),
			wantState: Live, wantAge: DefaultGrace},
		{name: "a heartbeat older than the grace is stale", key: key, lease: renewedAt("r1", epoch.Add(-16*time.Second)),
			wantState: Stale, wantAge: 16 * time.Second,
			wantText: "heartbeat Lease recsys/firedrill-run-r1 last renewed 16s ago by pid 42 on host laptop, longer than the grace of 15s"},
		{name: "a renewal in the future (the writer's clock is ahead) is live", key: key, lease: renewedAt("r1", epoch.Add(time.Minute)),
			wantState: Live, wantAge: -time.Minute},
		{name: "no Lease is missing", key: key, wantState: Missing, wantText: "no heartbeat: Lease recsys/firedrill-run-r1 does not exist"},
		{name: "a Lease another run holds is missing", key: key, lease: renewedAt("r2", epoch),
			wantState: Missing, wantText: `no heartbeat: Lease recsys/firedrill-run-r1 is held by "r2", not by run r1`},
		{name: "marks that name no heartbeat are missing", wantState: Missing,
			wantText: "no heartbeat: its marks name no heartbeat Lease (they were written by a drill without heartbeats)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Judge(tt.key, tt.lease, "r1", epoch, DefaultGrace)
			require.Equal(t, tt.wantState, s.State)
			require.Equal(t, tt.wantState != Live, s.Dead())
			require.Equal(t, tt.wantAge, s.Age)
			if tt.wantText != "" {
				require.Equal(t, tt.wantText, s.String())
			}
		})
	}
}

func TestJudgeFallsBackToTheAcquireTimeAndTheCreationTime(t *testing.T) {
	l := renewedAt("r1", epoch.Add(-time.Hour))
	l.Spec.RenewTime = nil
	require.Equal(t, time.Hour, Judge(Key{"recsys", "x"}, l, "r1", epoch, DefaultGrace).Age)
	l.Spec.AcquireTime = nil
	l.CreationTimestamp = metav1.NewTime(epoch.Add(-2 * time.Hour))
	require.Equal(t, 2*time.Hour, Judge(Key{"recsys", "x"}, l, "r1", epoch, DefaultGrace).Age)
}

func TestName(t *testing.T) {
	tests := []struct {
		name, runID, want string
	}{
		{name: "a generated run id is kept", runID: "kube-drain-20261207-120000-123-ab12", want: "firedrill-run-kube-drain-20261207-120000-123-ab12"},
		{name: "characters a DNS label cannot hold become dashes", runID: "Run_1", want: "firedrill-run-run-1"},
		{name: "a long run id is cut and hashed", runID: "a-very-long-plan-name-that-goes-on-20261207-120000-123-ab12",
			want: "firedrill-run-a-very-long-plan-name-that-goes-on-20261-ee162c61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Name(tt.runID)
			require.LessOrEqual(t, len(got), 63)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseKey(t *testing.T) {
	k, err := ParseKey("recsys/firedrill-run-r1")
	require.NoError(t, err)
	require.Equal(t, Key{Namespace: "recsys", Name: "firedrill-run-r1"}, k)
	_, err = ParseKey("firedrill-run-r1")
	require.ErrorContains(t, err, "heartbeat")
}

func TestBuildRecordsTheRunAndItsProcess(t *testing.T) {
	l := build(KeyOf("recsys", "r 1"), "r 1", Holder{Host: "laptop", PID: 42}, 15*time.Second, epoch)
	require.Equal(t, "firedrill-run-r-1", l.Name)
	require.Equal(t, ptr.To("r 1"), l.Spec.HolderIdentity)
	require.Equal(t, ptr.To(int32(15)), l.Spec.LeaseDurationSeconds)
	require.Equal(t, epoch, l.Spec.RenewTime.Time)
	require.Equal(t, map[string]string{"firedrill.dev/run-id": "r 1", AnnotationHost: "laptop", AnnotationPID: "42"}, l.Annotations)
	require.Equal(t, "r-1", l.Labels["firedrill.dev/run-id"])
	require.Equal(t, "r 1", RunOf(l))
}
