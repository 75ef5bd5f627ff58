package faultlog_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/platform/kube/faultlog"
)

type recorder struct {
	mu     sync.Mutex
	events []evidence.Event
}

func (r *recorder) Record(ev evidence.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// of are the recorded events as "type fault message".
func (r *recorder) of() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, string(ev.Type)+" "+ev.Fault+" "+ev.Message)
	}
	return out
}

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestEventsAreOnceOnlyAndGoOnlyToTheRecorderSet(t *testing.T) {
	l := faultlog.New(clocktesting.NewFakePassiveClock(t0))
	pod := evidence.Target{Kind: evidence.KindPod, Name: "recsys/a"}
	l.TookEffect("kill", &pod) // before Start: nowhere
	rec := &recorder{}
	l.SetRecorder(rec)
	rep := l.Reporter("kill", pod)
	rep.TookEffect()
	rep.TookEffect()
	rep.Note("seen once")
	rep.Note("seen once")
	l.Note("drain", nil, "drained")
	l.Observed("pod x is waiting for a GPU")
	l.TrafficSwitched("cutover", nil, "traffic switched")
	l.SetRecorder(nil) // after Stop: nowhere
	l.Note("kill", nil, "late")

	got := rec.of()
	require.Equal(t, []string{
		"Note kill seen once",
		"Note drain drained",
	}, got[:2], "TookEffect was spent before the recorder was set; notes once per message")
	require.ElementsMatch(t, []string{"Note kill pod x is waiting for a GPU", "Note drain pod x is waiting for a GPU"}, got[2:4],
		"an observation is a note of every fault under way")
	require.Equal(t, []string{"TrafficSwitched cutover traffic switched"}, got[4:])
	for _, ev := range rec.events {
		require.Equal(t, t0, ev.At, "stamped now")
	}
}

func TestAFaultRemembersWhatMakesItIdempotent(t *testing.T) {
	l := faultlog.New(clocktesting.NewFakePassiveClock(t0))
	st, created := l.State("cutover")
	require.True(t, created)
	again, created := l.State("cutover")
	require.False(t, created)
	require.Same(t, st, again)
	require.Equal(t, t0, st.Started())

	require.Empty(t, l.Lost())
	st.SetLost("us-east")
	require.Equal(t, []string{"us-east"}, l.Lost(), "a region taken down desires nothing")
	require.True(t, st.BeginRevert(), "the first revert")
	require.False(t, st.BeginRevert())
	require.Empty(t, l.Lost(), "a region coming back is the fail-back's")

	require.False(t, st.Switched())
	st.SetSwitched(true)
	require.True(t, st.Switched())
	require.False(t, st.Restarted())
	st.SetRestarted()
	require.True(t, st.Restarted())
	_, killed := st.Killed("recsys/a")
	require.False(t, killed)
}
