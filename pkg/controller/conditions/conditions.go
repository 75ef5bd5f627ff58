package conditions

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The condition types, as Flux and kstatus name them.
const (
	// Ready is True when the object's status is current and final for
	// its generation.
	Ready = "Ready"
	// Reconciling is True while the controller works towards the
	// object's generation.
	Reconciling = "Reconciling"
	// Stalled is True when the controller cannot make progress without a
	// change to the object or its environment.
	Stalled = "Stalled"
)

// Set sets condition typ on conds to status with reason and message for
// generation gen. The transition time is now when the status changes and
// kept otherwise, as meta.SetStatusCondition does.
func Set(conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, reason, message string, gen int64, now time.Time) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(message), ObservedGeneration: gen,
		LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second)),
	})
}

// Remove drops condition typ.
func Remove(conds *[]metav1.Condition, typ string) { meta.RemoveStatusCondition(conds, typ) }

// Progressing marks an object being worked on: Reconciling True, Ready
// Unknown, no Stalled.
func Progressing(conds *[]metav1.Condition, reason, message string, gen int64, now time.Time) {
	Set(conds, Reconciling, metav1.ConditionTrue, reason, message, gen, now)
	Set(conds, Ready, metav1.ConditionUnknown, reason, message, gen, now)
	Remove(conds, Stalled)
}

// Done marks an object whose status is final: Ready True, no Reconciling
// or Stalled.
func Done(conds *[]metav1.Condition, reason, message string, gen int64, now time.Time) {
	Set(conds, Ready, metav1.ConditionTrue, reason, message, gen, now)
	Remove(conds, Reconciling)
	Remove(conds, Stalled)
}

// Stall marks an object the controller cannot make progress on: Stalled
// True, Ready False, no Reconciling.
func Stall(conds *[]metav1.Condition, reason, message string, gen int64, now time.Time) {
	Set(conds, Stalled, metav1.ConditionTrue, reason, message, gen, now)
	Set(conds, Ready, metav1.ConditionFalse, reason, message, gen, now)
	Remove(conds, Reconciling)
}

// maxMessage is metav1.Condition's limit on a message.
const maxMessage = 32768

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}
