package conditions

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	var conds []metav1.Condition

	Progressing(&conds, "Running", "step kill", 2, t0)
	require.Len(t, conds, 2)
	require.True(t, meta.IsStatusConditionTrue(conds, Reconciling))
	require.Equal(t, metav1.ConditionUnknown, meta.FindStatusCondition(conds, Ready).Status)

	// The same status later keeps its transition time; the message moves on.
	Progressing(&conds, "Running", "step drain", 2, t0.Add(time.Minute))
	ready := meta.FindStatusCondition(conds, Ready)
	require.Equal(t, t0, ready.LastTransitionTime.Time)
	require.Equal(t, "step drain", ready.Message)

	Stall(&conds, "RecoverFailed", "node gpu-1: forbidden", 3, t0.Add(2*time.Minute))
	require.Nil(t, meta.FindStatusCondition(conds, Reconciling))
	require.True(t, meta.IsStatusConditionTrue(conds, Stalled))
	require.Equal(t, int64(3), meta.FindStatusCondition(conds, Ready).ObservedGeneration)

	Done(&conds, "Succeeded", "verdict Pass", 3, t0.Add(3*time.Minute))
	require.Len(t, conds, 1)
	require.True(t, meta.IsStatusConditionTrue(conds, Ready))
	require.Equal(t, t0.Add(3*time.Minute), conds[0].LastTransitionTime.Time)
}

func TestAMessageIsCutToTheAPILimit(t *testing.T) {
	var conds []metav1.Condition
	Done(&conds, "Error", strings.Repeat("x", 40000), 1, time.Now())
	require.Len(t, conds[0].Message, maxMessage)
	require.True(t, strings.HasSuffix(conds[0].Message, "..."))
}
