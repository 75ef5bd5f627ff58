package action

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// EnvToken is the environment variable every command an action starts
// carries, with its InFlight token, so that a later cleanup finds the
// command and anything it started even after they left its process group.
const EnvToken = "FIREDRILL_ACTION"

// InFlight is a runbook action that started and has not finished, as a
// Tracker records it.
type InFlight struct {
	// Token identifies the action; its processes carry it in EnvToken.
	Token string `json:"token"`
	// Kind is command or webhook.
	Kind string `json:"kind"`
	// What describes the action for people: the argv or the URL.
	What string `json:"what"`
	// PGID is the command's process group, once started; 0 for a webhook
	// or before the start.
	PGID int `json:"pgid,omitempty"`
	// Started is when the action started.
	Started time.Time `json:"started"`
	// Deadline is when its timeout ends it.
	Deadline time.Time `json:"deadline"`
}

// Tracker durably records the actions in flight, so that the cleanup after
// a crash can stop a runbook command that outlived its drill before it
// reverts anything. The journal implements it.
type Tracker interface {
	// Starting records an action before it starts. An error stops the
	// action: an action that could not be recorded could not be stopped.
	Starting(a InFlight) error
	// Started records a command's process group.
	Started(token string, pgid int) error
	// Finished records that the action ended.
	Finished(token string) error
}

type trackerKey struct{}

// WithTracker returns a context whose actions are recorded by t. The engine
// sets it for the actions of a fault, whether it runs them itself (exec
// faults) or a platform does (a cutover's traffic switch command).
func WithTracker(ctx context.Context, t Tracker) context.Context {
	return context.WithValue(ctx, trackerKey{}, t)
}

// TrackerFrom returns the context's tracker, nil when there is none.
func TrackerFrom(ctx context.Context) Tracker {
	if t, ok := ctx.Value(trackerKey{}).(Tracker); ok {
		return t
	}
	return nil
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux.
	return hex.EncodeToString(b[:])
}
