package state_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/controller/plansdir/state"
	"github.com/firedrill/firedrill/pkg/report"
)

var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

func TestStateRoundTripsAndIsLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "serve")
	s := state.New(dir)
	lock, err := s.Lock()
	require.NoError(t, err)
	_, err = state.New(dir).Lock()
	require.ErrorContains(t, err, "another drill serve runs on the state directory "+dir)

	empty, err := s.Load()
	require.NoError(t, err)
	require.Empty(t, empty.Plans)
	require.Empty(t, empty.Active)

	fire := t0.Add(-time.Minute)
	want := state.File{
		Plans:  map[string]v1alpha1.ScheduleStatus{"a": {LastScheduleTime: &metav1.Time{Time: fire}}},
		Active: []state.Run{{ID: "a-1", Plan: report.Plan{Name: "a"}, Trigger: v1alpha1.TriggerSchedule, Scheduled: &fire, Created: t0}},
	}
	require.NoError(t, s.Save(want))
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, "firedrill.dev/serve-state/v1", got.Schema)
	require.Equal(t, want.Active, got.Active)
	require.Len(t, got.Plans, 1)
	require.True(t, fire.Equal(got.Plans["a"].LastScheduleTime.Time), "metav1.Time reads back in local time")

	require.NoError(t, lock.Close())
	other, err := state.New(dir).Lock()
	require.NoError(t, err, "the lock is released with its file")
	require.NoError(t, other.Close())
}

func TestLoadRefusesADamagedState(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"not JSON", "{", "is damaged"},
		{"another schema", `{"schema": "firedrill.dev/serve-state/v0"}`, `has schema "firedrill.dev/serve-state/v0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte(tt.content), 0o600))
			_, err := state.New(dir).Load()
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// live is a snapshot of run a-1.
func live(phase v1alpha1.RunPhase, msg string) *report.Report {
	r := &report.Report{RunID: "a-1"}
	r.Phase, r.Message = phase, msg
	return r
}

func TestDeadReport(t *testing.T) {
	rec := state.Run{ID: "a-1", Plan: report.Plan{Name: "a"}, Trigger: v1alpha1.TriggerAPI, Created: t0}
	tool := report.Tool{Version: "test"}
	tests := []struct {
		name     string
		live     *report.Report
		reverted []string
		want     v1alpha1.RunPhase
		message  string
	}{
		{name: "a run with nothing kept is an Error with nothing measured",
			want: v1alpha1.RunError, message: state.DiedMessage + "; when it started again no fault of the run was left to revert; nothing of it was measured"},
		{name: "a run that was going is an Error as of its snapshot, with what was reverted",
			live: live(v1alpha1.RunRunning, ""), reverted: []string{"kill pod x"},
			want: v1alpha1.RunError, message: state.DiedMessage + "; when it started again it reverted: kill pod x; the measurements are as of 2026-12-01T02:00:05Z"},
		{name: "a run that finished keeps its final report",
			live: live(v1alpha1.RunSucceeded, "done"),
			want: v1alpha1.RunSucceeded, message: "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := state.New(t.TempDir())
			if tt.live != nil {
				require.NoError(t, s.WriteLive(rec.ID, t0.Add(5*time.Second), tt.live))
			}
			got := s.DeadReport(rec, tt.reverted, tool)
			require.Equal(t, tt.want, got.Phase)
			require.Equal(t, tt.message, got.Message)
			require.NoError(t, s.RemoveLive(rec.ID))
			require.Nil(t, s.ReadLive(rec.ID))
		})
	}
}
