package follow

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
	"github.com/firedrill/firedrill/pkg/cmd/follow/followtest"
)

func runWith(st v1alpha1.DrillRunStatus) *v1alpha1.DrillRun {
	return &v1alpha1.DrillRun{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-x7k2p", Namespace: "recsys"},
		Spec:       v1alpha1.DrillRunSpec{PlanRef: &v1alpha1.PlanReference{Name: "nightly"}},
		Status:     st,
	}
}

func TestDiffTellsEachMilestoneOnce(t *testing.T) {
	var lines []string
	var prev *v1alpha1.DrillRun
	for _, st := range followtest.Script() {
		next := runWith(st)
		for _, l := range Diff(prev, next) {
			lines = append(lines, l.String())
		}
		// Seeing the same status again tells nothing new.
		require.Empty(t, Diff(next, next))
		prev = next
	}
	require.Equal(t, []string{
		"   0.0s  started    run recsys/nightly-x7k2p of plan nightly on drill serve replica drill-serve-0_1a2b",
		"   0.1s  step       baseline: wait",
		"   5.0s  step       drain: nodeDrain",
		"   5.2s  injected   drain: nodeDrain on node/gpu-east-1",
		"  12.7s  recovered  drain: recovered in 7.50s",
		"  13.0s  reverted   drain: reverting",
		"  20.0s  finished   Succeeded, verdict Pass",
	}, lines)
}

func TestDiffTellsAnAbort(t *testing.T) {
	s := followtest.Script()
	lines := Diff(runWith(s[2]), runWith(followtest.Aborting(s[2])))
	require.Len(t, lines, 1)
	require.Equal(t, "   6.0s  aborting   aborted on request (p99 pages); reverting every active fault", lines[0].String())
}

func TestStatusLine(t *testing.T) {
	s := followtest.Script()
	got := Status(runWith(s[2]), followtest.T0.Add(7*time.Second))
	require.Equal(t, "   7.0s  step drain                  120 req  success    100%  p99 12ms     active faults: drain", got)
	require.True(t, strings.HasSuffix(Status(runWith(s[1]), followtest.T0), "active faults: none"))
}
