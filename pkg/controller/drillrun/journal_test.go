package drillrun

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/firedrill/firedrill/pkg/action"
	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/engine"
	"github.com/firedrill/firedrill/pkg/evidence"
	"github.com/firedrill/firedrill/pkg/journal"
)

// fileJournal records what the local journal was told.
type fileJournal struct {
	mu    sync.Mutex
	calls []string
}

func (f *fileJournal) add(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }
func (f *fileJournal) Begin(id string, _ v1alpha1.Fault, _ []evidence.Target) error {
	f.add("begin " + id)
	return nil
}
func (f *fileJournal) Set(id string, s journal.State, _ string) error {
	f.add("set " + id + " " + string(s))
	return nil
}
func (f *fileJournal) StepDone(name string) error    { f.add("step " + name); return nil }
func (f *fileJournal) Finish(outcome string) error   { f.add("finish " + outcome); return nil }
func (f *fileJournal) Tracker(string) action.Tracker { return nil }
func (f *fileJournal) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func TestTheJournalWritesEachFaultIntoTheStatusBeforeItIsTouched(t *testing.T) {
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	var failing bool
	var mu sync.Mutex
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.DrillRun{}).
		WithObjects(runOf("run1", nil)).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			mu.Lock()
			f := failing
			mu.Unlock()
			if f {
				return errBoom
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}}).Build()
	file := &fileJournal{}
	factory := JournalFactory(c, func(journal.Record) (engine.Journal, error) { return file, nil }, nil)

	_, err := factory(journal.Record{RunID: "no-namespace"})
	require.ErrorContains(t, err, "does not name a DrillRun")

	j, err := factory(journal.Record{RunID: "recsys.run1"})
	require.NoError(t, err)
	journalOf := func() []v1alpha1.JournalEntry {
		var r v1alpha1.DrillRun
		require.NoError(t, c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "run1"}, &r))
		return r.Status.Journal
	}
	node := []evidence.Target{{Kind: evidence.KindNode, Name: "gpu-east-1", Region: "us-east"}}
	require.NoError(t, j.Begin("drain", v1alpha1.Fault{}, node))
	require.Equal(t, []v1alpha1.JournalEntry{{Step: "drain", State: v1alpha1.FaultInjecting,
		Targets: []v1alpha1.FaultTarget{{Kind: "node", Name: "gpu-east-1", Region: "us-east"}}}}, journalOf(),
		"Begin returns once the status holds the fault")
	require.Equal(t, []string{"begin drain"}, file.seen())

	require.NoError(t, j.Set("drain", journal.Active, ""))
	require.Eventually(t, func() bool { return journalOf()[0].State == v1alpha1.FaultActive }, 5*time.Second, 5*time.Millisecond)

	// A Begin the status cannot record fails, and the record does not keep it.
	defer func(d time.Duration) { beginTimeout = d }(beginTimeout)
	beginTimeout = 100 * time.Millisecond
	mu.Lock()
	failing = true
	mu.Unlock()
	err = j.Begin("cutover", v1alpha1.Fault{}, nil)
	require.ErrorContains(t, err, "before touching anything")
	require.NotContains(t, file.seen(), "begin cutover", "the local journal is not told either")
	mu.Lock()
	failing = false
	mu.Unlock()

	require.NoError(t, j.Set("drain", journal.Reverted, ""))
	require.NoError(t, j.Finish("Succeeded"))
	require.Equal(t, []v1alpha1.JournalEntry{{Step: "drain", State: v1alpha1.FaultReverted,
		Targets: []v1alpha1.FaultTarget{{Kind: "node", Name: "gpu-east-1", Region: "us-east"}}}}, journalOf(),
		"Finish writes the last states")
	require.Equal(t, "finish Succeeded", file.seen()[len(file.seen())-1])
}

func TestRunIDs(t *testing.T) {
	key := types.NamespacedName{Namespace: "recsys", Name: "nightly-20261208-030000"}
	require.Equal(t, "recsys.nightly-20261208-030000", RunID(key))
	back, ok := KeyOf(RunID(key))
	require.True(t, ok)
	require.Equal(t, key, back)
	back, ok = KeyOf("recsys.a.b")
	require.True(t, ok)
	require.Equal(t, types.NamespacedName{Namespace: "recsys", Name: "a.b"}, back, "a name may hold dots; a namespace may not")
	for _, bad := range []string{"nodot", ".name", "ns."} {
		_, ok := KeyOf(bad)
		require.False(t, ok, bad)
	}
}

func TestAFaultWithNothingToRevertIsOverWithTheRun(t *testing.T) {
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.DrillRun{}).WithObjects(runOf("run1", nil)).Build()
	j, err := JournalFactory(c, func(journal.Record) (engine.Journal, error) { return &fileJournal{}, nil }, nil)(journal.Record{RunID: "recsys.run1"})
	require.NoError(t, err)
	require.NoError(t, j.Begin("kill", v1alpha1.Fault{PodKill: &v1alpha1.PodKill{}}, nil))
	require.NoError(t, j.Begin("drain", v1alpha1.Fault{NodeDrain: &v1alpha1.NodeDrain{}}, nil))
	require.NoError(t, j.Set("kill", journal.Active, ""))
	require.NoError(t, j.Set("drain", journal.Active, ""))
	require.NoError(t, j.Finish("Error"))
	var r v1alpha1.DrillRun
	require.NoError(t, c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "run1"}, &r))
	require.Equal(t, []v1alpha1.JournalEntry{{Step: "kill", State: v1alpha1.FaultReverted}, {Step: "drain", State: v1alpha1.FaultActive}}, r.Status.Journal,
		"a pod kill is over with the run; a drain the run could not revert stays for recovery")
}
