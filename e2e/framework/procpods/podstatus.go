package procpods

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// containerView is what the node agent reports about a pod's only
// container, from which podStatusPatch builds the pod's status.
type containerView struct {
	uid         types.UID
	name, image string
	// startTime is when the agent first started the pod's process.
	startTime time.Time
	// state: running since startedAt, or waiting (reason, message), or
	// terminated.
	startedAt      time.Time
	waiting        string
	waitingMessage string
	terminated     *corev1.ContainerStateTerminated
	// lastTerminated is the previous run's end, after a restart.
	lastTerminated *corev1.ContainerStateTerminated
	restarts       int32
	// ready is the readiness probe's verdict; readySince is when it last
	// changed.
	ready      bool
	readySince time.Time
}

// podStatusPatch returns a strategic merge patch of a pod's status for v.
// The Ready and ContainersReady conditions are merged by type (the others,
// set by the scheduler and kwok, stay); containerStatuses is replaced. The
// patch carries the pod's UID, so it fails with a conflict instead of
// touching a new pod of the same name.
func podStatusPatch(v containerView) ([]byte, error) {
	cs := corev1.ContainerStatus{
		Name: v.name, Image: v.image, ImageID: v.image, Ready: v.ready, RestartCount: v.restarts,
		LastTerminationState: corev1.ContainerState{Terminated: v.lastTerminated},
	}
	started := false
	switch {
	case v.terminated != nil:
		cs.State.Terminated = v.terminated
	case v.waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: v.waiting, Message: v.waitingMessage}
	default:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(v.startedAt)}
		started = true
		cs.ContainerID = fmt.Sprintf("process://%s/%d", v.uid, v.restarts)
	}
	cs.Started = &started

	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(v.readySince)}
		if v.ready {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason = "ContainersNotReady"
			c.Message = "containers with unready status: [" + v.name + "]"
		}
		return c
	}
	status := map[string]any{
		"conditions":        []corev1.PodCondition{cond(corev1.PodReady), cond(corev1.ContainersReady)},
		"containerStatuses": []corev1.ContainerStatus{cs},
	}
	if !v.startTime.IsZero() {
		status["phase"] = corev1.PodRunning
		status["startTime"] = metav1.NewTime(v.startTime)
	}
	patch := map[string]any{
		"metadata": map[string]any{"uid": v.uid},
		"status":   status,
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encoding the status of pod %s: %w", v.uid, err)
	}
	return data, nil
}
